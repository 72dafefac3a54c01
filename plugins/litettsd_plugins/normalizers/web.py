"""Web and computer text: URLs, e-mail addresses, file paths and names, handles, hashtags, versions.

espeak-ng reads ``https://www.example.com/docs`` letter by letter ("H-T-T-P-S colon...")
and would otherwise let the later rules tear these tokens apart: the slashes look like
fractions or dates, the dots like decimals or sentence ends, ``@`` and ``#`` like symbols.
So this step runs before every number and symbol rule and reads each token the way
people say it: "example dot com slash docs". The scheme, ``www``, query strings and
fragments are dropped (they are noise when heard); digits inside are left to the number
rules, except in versions and IP addresses whose dots are not decimal points.
"""

from __future__ import annotations

import re

from litettsd.api import NormalizeContext
from litettsd.hookspecs import hookimpl
from litettsd.patterns import LazyPattern

from ._words import WORD_LETTER, EnglishStep, integer_words, letters, padded, rewrite_near

_BARE_TLDS = (
    "com|org|net|edu|gov|mil|int|info|biz|io|ai|dev|app|co|uk|de|fr|jp|cn|ru|ca|au|eu|nl|ch|se|es|pl|br|"
    "xyz|tech|site|online|blog|cloud|news|page|gg|ly|fm|tv"
)
"""Top-level domains recognised without a scheme; English words such as ``in``, ``it``,
``is``, ``me`` and ``to`` are left out so ``ended.It`` (a missing space) is not a domain."""
_WORD_TLDS = frozenset(
    "com org net gov mil int info biz app dev tech site online blog cloud news page shop store club".split()
)
"""Top-level domains said as words; the others are spelled ("dot I.O", "dot U.K")."""

_EXTENSIONS = (
    "txt|pdf|md|rst|csv|tsv|json|xml|html|htm|css|js|ts|tsx|jsx|py|pyc|rb|rs|go|java|kt|c|h|cpp|hpp|cs|"
    "php|sh|bash|zsh|ps1|bat|exe|dll|so|dylib|deb|rpm|whl|toml|yaml|yml|ini|cfg|conf|env|lock|log|sql|db|"
    "sqlite|jpg|jpeg|png|gif|svg|webp|bmp|ico|tif|tiff|mp3|mp4|m4a|wav|ogg|opus|flac|mkv|avi|mov|webm|"
    "zip|tar|gz|tgz|bz2|xz|7z|rar|iso|img|doc|docx|xls|xlsx|ppt|pptx|odt|ods|odp|rtf|epub|onnx|bin|dat|bak|tmp"
)
_EXTENSION_WORDS = {
    "json": "jason", "jpeg": "jay peg", "jpg": "jay peg", "gif": "gif", "zip": "zip", "tar": "tar",
    "toml": "toml", "yaml": "yaml", "lock": "lock", "log": "log", "conf": "conf", "env": "env",
    "go": "go", "java": "java", "deb": "deb", "whl": "wheel", "bin": "bin", "wav": "wave",
    "ogg": "ogg", "opus": "opus", "flac": "flack", "cpp": "C plus plus", "bash": "bash",
    "zsh": "Z shell", "epub": "E pub", "tmp": "temp", "img": "image", "onnx": "onnx", "webp": "web P",
}

_URL_BODY = r"[^\s<>\"'()\[\]{}]+"
_PATTERNS = {
    "url": rf"(?<!{WORD_LETTER}|[.-])(?:[A-Za-z][A-Za-z0-9+.-]*://|www\.){_URL_BODY}",
    "email": rf"(?<![\w.+-])[\w.+-]+@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{{2,}}(?!{WORD_LETTER}|-{WORD_LETTER})",
    "domain": rf"(?<!{WORD_LETTER})(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+(?:{_BARE_TLDS})"
    rf"(?::[0-9]{{1,5}})?(?:/{_URL_BODY})?(?!{WORD_LETTER}|-{WORD_LETTER})",
    "path": r"(?<![\w.~/\\:-])(?:(?:~|\.{1,2})?(?:/[\w.@+-]+){2,}/?|(?:~|\.{1,2})(?:/[\w.@+-]+)+/?)",
    "windows": r"(?<!\w)[A-Za-z]:\\(?:[\w.-]+(?:\\[\w.-]+)*\\?)?",
    "file": rf"(?<!{WORD_LETTER})(?:[\w-]{{2,}}|[0-9])(?:\.[\w-]+)*\.(?:{_EXTENSIONS}|[A-Z]{{2,4}})"
    rf"(?!{WORD_LETTER}|-{WORD_LETTER})",
    "dotted_name": rf"(?<!{WORD_LETTER}|\.)\.(?![A-Z][a-z])[A-Za-z][\w-]+(?:\.[A-Za-z0-9][\w-]*)*(?!{WORD_LETTER}|[.-][\w])",
    "version": r"(?<![\w.])v[0-9]+(?:\.[0-9]+)*(?:-(?:alpha|beta|rc|dev|pre)(?:\.?[0-9]+)?)?(?![\w-]|\.[0-9])",
    "ip": r"(?<![\w.])(?:[0-9]{1,3}\.){3}[0-9]{1,3}(?![\w-]|\.[0-9])",
    "handle": r"(?<![\w@.])@[A-Za-z_][A-Za-z0-9_]{0,30}(?![\w@]|\.[A-Za-z])",
    # (not "#A-2291" or "#AB-1234", a letter or a few capitals and a number: an identifier,
    # which the numbers step reads; "#COVID-19" is a hashtag and a number)
    "hashtag": r"(?<![\w#&])#(?=[0-9]*[A-Za-z_])"
    r"(?![A-Za-z]-[0-9]|[A-Z]{2,3}-(?!(?:19|20)[0-9]{2}\b)[0-9]{3})[A-Za-z0-9_]+",
}
# A name may run straight into digits or underscores ("main.c0", "_x.py"): later steps split
# them off, and the name must be recognised the same way before and after that.
_WEB = LazyPattern("|".join(f"(?P<{name}>{pattern})" for name, pattern in _PATTERNS.items()))
_TRIGGER = LazyPattern(r"@|#|/|\\|:|\.(?=[0-9A-Za-z])|v(?=[0-9])")
"""Something in a word that may make it web text; only such words are matched against ``_WEB``."""
_TRAILING = LazyPattern(r"[.,;:!?]+$")
_SCHEME = LazyPattern(r"([A-Za-z][A-Za-z0-9+.-]*)://")
_HOST_END = LazyPattern(r"[/?#]")
_QUERY = LazyPattern(r"[?#]")
_CAMEL = LazyPattern(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Za-z])(?=[0-9])|(?<=[0-9])(?=[A-Za-z])|_+")
_URL_SPACE = LazyPattern(r"%20|\+|[-_]+")
_IDENTIFIER = LazyPattern(r"[_.-]")
_IDENTIFIER_WORDS = {"_": " underscore ", ".": " dot ", "-": " dash "}
_PATH_NAMES = {"/": "slash", "~": "tilde", ".": "dot", "..": "dot dot"}
_SLASHES = LazyPattern(r"(/)")
_EXTENSION = LazyPattern(rf"\.({_EXTENSIONS}|[A-Z]{{2,4}})$")


_CAPITAL_EXTENSIONS = {"NET": "net"}
"""Names after a dot said as words though written in capitals: ".NET" and "ASP.NET" end in "dot net"."""


def _identifier(part: str) -> str:
    """``my_file-v2`` -> "my underscore file dash v2": in names every mark matters."""
    return _IDENTIFIER.sub(lambda m: _IDENTIFIER_WORDS[m.group()], part)


def _file_name(name: str) -> str:
    found = _EXTENSION.search(name)
    if not found:
        return _identifier(name)
    extension = found.group(1)
    spoken = _CAPITAL_EXTENSIONS.get(extension) or _EXTENSION_WORDS.get(extension.lower()) or letters(extension)
    return f"{_identifier(name[:found.start()])} dot {spoken}"


def _dotted_name(name: str) -> str:
    """What follows the dot of ".NET", ".bashrc", ".txt" or ".tar.gz": an extension alone as
    in a file name, a longer name like a file name. A capitalised word after a dot (".Thanks")
    is a typed sentence end, not a name, and is not matched."""
    if _EXTENSION.fullmatch("." + name) and (not name.isupper() or name in _CAPITAL_EXTENSIONS):
        return _file_name("." + name).removeprefix(" dot ")
    return _file_name(name)


def _host(host: str) -> str:
    host, _, port = host.partition(":")
    labels = [label for label in host.lower().split(".") if label]
    if len(labels) > 2 and labels[0] == "www":
        labels = labels[1:]
    spoken = [label.replace("-", " dash ") for label in labels]
    if len(labels) > 1 and labels[-1].isalpha() and labels[-1] not in _WORD_TLDS and len(labels[-1]) <= 3:
        spoken[-1] = letters(labels[-1])
    words = " dot ".join(spoken)
    return f"{words} colon {port}" if port else words


def _url(url: str) -> str:
    """Host, then path segments joined by "slash"; slugs read as words; query and fragment dropped."""
    prefix = ""
    scheme = _SCHEME.match(url)
    if scheme:
        url = url[scheme.end():]
        if scheme.group(1).lower() not in ("http", "https"):
            prefix = letters(scheme.group(1)) + " "
    host_end = _HOST_END.search(url)
    host = url[:host_end.start()] if host_end else url
    path = _QUERY.split(url[host_end.start():], maxsplit=1)[0] if host_end else ""
    spoken = [_host(host.rsplit("@", 1)[-1])]
    for segment in path.split("/"):
        if segment:
            spoken.append(_file_name(segment) if _EXTENSION.search(segment) else _URL_SPACE.sub(" ", segment))
    return prefix + " slash ".join(part for part in spoken if part.strip())


def _email(address: str) -> str:
    user, _, domain = address.rpartition("@")
    user = _identifier(user).replace("+", " plus ")
    return f"{user} at {_host(domain)}"


def _unix_path(path: str) -> str:
    return " ".join(_PATH_NAMES.get(part) or _file_name(part) for part in _SLASHES.split(path) if part)


def _windows_path(path: str) -> str:
    drive, _, rest = path.partition(":\\")
    return " backslash ".join([f"{drive.upper()} colon", *(_file_name(part) for part in rest.split("\\") if part)])


def _version(token: str) -> str:
    """"v1.2.3-rc1" -> "version one point two point three R.C one"."""
    number, _, stage = token[1:].partition("-")
    spoken = "version " + " point ".join(integer_words(part) for part in number.split("."))
    if not stage:
        return spoken
    name = stage.rstrip("0123456789.")
    count = stage[len(name):].lstrip(".")
    return " ".join(filter(None, (spoken, _STAGES.get(name, name), count and integer_words(count))))


_STAGES = {"rc": "R.C"}
"""Pre-release stages said other than as written ("alpha", "beta" are words already)."""


def _ip(address: str) -> str:
    octets = address.split(".")
    if any(int(octet) > 255 for octet in octets):
        return address
    return " dot ".join(integer_words(octet) for octet in octets)


@padded
def _speak(match: re.Match[str]) -> str:
    kind = match.lastgroup
    token = match.group()
    trailing = ""
    if kind in ("url", "domain", "path"):
        end = _TRAILING.search(token)
        if end:
            token, trailing = token[:end.start()], end.group()
    if kind in ("url", "domain"):
        spoken = _url(token)
    elif kind == "email":
        spoken = _email(token)
    elif kind == "path":
        spoken = _unix_path(token)
    elif kind == "windows":
        spoken = _windows_path(token)
    elif kind == "file":
        spoken = _file_name(token)
    elif kind == "dotted_name":
        spoken = "dot " + _dotted_name(token[1:])
    elif kind == "version":
        spoken = _version(token)
    elif kind == "ip":
        spoken = _ip(token)
    elif kind == "handle":
        spoken = "at " + token[1:].replace("_", " underscore ")
    else:
        spoken = "hashtag " + _CAMEL.sub(" ", token[1:])
    return f"{spoken}{trailing}"


class Web(EnglishStep):
    """URLs, e-mail, paths, file names, @handles, #hashtags, versions and IP addresses."""

    name = "web"
    order = 200

    def rewrite(self, text: str, context: NormalizeContext) -> str:
        return rewrite_near(text, _TRIGGER, _rewrite_word, words=0)


def _rewrite_word(word: str) -> str:
    return _WEB.sub(_speak, word)


@hookimpl
def litettsd_register_normalizers() -> list[Web]:
    return [Web()]
