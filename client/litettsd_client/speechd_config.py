"""Settings of the speech-dispatcher module: its ``litetts.conf`` and the ``SET`` values.

Two kinds of settings meet here. ``litetts.conf`` (speech-dispatcher passes its path as the
module's first argument) holds what an administrator decides once: the daemon socket,
which litettsd voice each speech-dispatcher voice type means, and the curves that turn
speech-dispatcher's -100..100 scales into the daemon's multipliers. ``SET`` blocks, sent
before every message, carry what the user's client asks for now. :func:`daemon_fields`
combines both into the fields of one daemon request, so the whole mapping is in one place
and documented in ``docs/speech-dispatcher.md``.
"""

from __future__ import annotations

import dataclasses
import logging
import shlex
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("sd_litetts")

VOICE_TYPES = ("male1", "male2", "male3", "female1", "female2", "female3", "child_male", "child_female")
"""speech-dispatcher's symbolic voices, as its ``SET`` sends them."""
PUNCTUATION_MODES = ("none", "some", "most", "all")
CAPITALS_MODES = ("none", "spell", "icon")
PRIORITIES = ("important", "message", "text", "notification", "progress")
"""The daemon's request classes (see docs/protocol.md)."""

DEFAULT_CONFIG_TEXT = """\
# litetts.conf: settings of sd_litetts, speech-dispatcher's output module for litettsd.
#
# speech-dispatcher passes this file's path to the module when it loads it with
#   AddModule "litetts" "sd_litetts" "litetts.conf"
# (or when it finds sd_litetts in its module folder). `litetts speechd-install` puts it in
# ~/.config/speech-dispatcher/modules/ (--user) or /etc/speech-dispatcher/modules/.
# Syntax: one setting per line, "Name value"; quote values with spaces; # starts a comment.
# A missing line keeps the default shown here. Restart speech-dispatcher after editing.

# Socket of the litettsd daemon. Empty: $LITETTSD_SOCKET if set, else the per-user
# default ($XDG_RUNTIME_DIR/litettsd/litettsd.sock).
LitettsSocket ""

# Seconds to wait for the daemon: connecting at start-up, and each reply while speaking.
LitettsTimeout 15

# The litettsd voice (an id from `litetts voices`) for each speech-dispatcher voice type.
# Clients pick a type (Orca's "voice type", spd-say -t); an explicit synthesis voice
# (spd-say -y, Orca's person) wins over it. "" means the daemon's default voice. A voice
# that is not installed, or does not speak the requested language, falls back to the
# first installed voice of that language, then to the daemon's default.
LitettsVoiceType male1 ""
LitettsVoiceType male2 "kokoro:jm_kumo"
LitettsVoiceType male3 "kokoro:jm_kumo"
LitettsVoiceType female1 "kokoro:jf_alpha"
LitettsVoiceType female2 "kokoro:jf_gongitsune"
LitettsVoiceType female3 "kokoro:jf_nezumi"
LitettsVoiceType child_male "kokoro:jm_kumo"
LitettsVoiceType child_female "kokoro:jf_tebukuro"

# Rate -100..100 to the daemon's speed multiplier, on an exponential curve: rate 0 is the
# voice's natural pace (1.0), +100 is LitettsRateMaxSpeed, -100 is LitettsRateMinSpeed,
# and every step in between changes the pace by the same ratio.
# Limits: min 0.25..1, max 1..4.
LitettsRateMinSpeed 0.5
LitettsRateMaxSpeed 2.5

# Pitch -100..100 to a pitch multiplier (duration kept): +-100 shifts the voice by this
# many semitones up or down, exponentially in between. 0..12.
LitettsPitchMaxSemitones 6

# Volume -100..100 to a linear gain: -100 is silence, 100 (speech-dispatcher's default)
# is LitettsVolumeMaxGain, linear in between. 0..4; above 1 may clip loud voices.
LitettsVolumeMaxGain 1.0

# Class of every request at the daemon: important, message, text, notification or
# progress. A screen reader's speech should not wait behind other clients' long texts.
LitettsPriority "message"

# Sample rate of the audio handed to speech-dispatcher. 0: each voice's own rate (no
# resampling, lowest latency).
LitettsSampleRate 0

# Largest PCM payload of one audio block, in bytes (512..65536). speech-dispatcher reads
# the module's output at playback speed; small blocks let it see STOP sooner.
LitettsAudioBlockBytes 4096

# Folder of sound icons for SOUND_ICON (16-bit PCM WAV files named after the icon, with or
# without ".wav"). An icon without a file is spoken by name. Empty: always speak names.
LitettsSoundIconFolder "/usr/share/sounds/sound-icons/"
"""
"""The shipped ``litetts.conf``; ``config/speechd/litetts.conf`` is a copy kept equal by a test.

Kept in code so that ``litetts speechd-install`` works from an installed wheel, which
carries no ``config/`` folder.
"""


class ConfigError(ValueError):
    """A ``litetts.conf`` line that cannot be used; the line keeps its default."""


@dataclass(frozen=True)
class ModuleConfig:
    """What ``litetts.conf`` sets; the defaults equal :data:`DEFAULT_CONFIG_TEXT`."""

    socket: str = ""
    timeout: float = 15.0
    voice_types: dict[str, str] = field(
        default_factory=lambda: {
            "male1": "",
            "male2": "kokoro:jm_kumo",
            "male3": "kokoro:jm_kumo",
            "female1": "kokoro:jf_alpha",
            "female2": "kokoro:jf_gongitsune",
            "female3": "kokoro:jf_nezumi",
            "child_male": "kokoro:jm_kumo",
            "child_female": "kokoro:jf_tebukuro",
        }
    )
    rate_min_speed: float = 0.5
    rate_max_speed: float = 2.5
    pitch_max_semitones: float = 6.0
    volume_max_gain: float = 1.0
    priority: str = "message"
    sample_rate: int = 0
    audio_block_bytes: int = 4096
    sound_icon_folder: str = "/usr/share/sounds/sound-icons/"


def _number(value: str, low: float, high: float) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"{value!r} is not a number") from None
    if not low <= number <= high:
        raise ConfigError(f"{value} is outside {low:g}..{high:g}")
    return number


def _integer(value: str, low: int, high: int) -> int:
    number = _number(value, low, high)
    if number != int(number):
        raise ConfigError(f"{value} is not a whole number")
    return int(number)


def _choice(value: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ConfigError(f"{value!r} is not one of {', '.join(choices)}")
    return value


def _sample_rate(value: str) -> int:
    rate = _integer(value, 0, 192000)
    if 0 < rate < 8000:
        raise ConfigError("must be 0 or 8000..192000")
    return rate


_SINGLE_VALUED: dict[str, tuple[str, Callable[[str], Any]]] = {
    "litettssocket": ("socket", str),
    "litettstimeout": ("timeout", lambda v: _number(v, 0.1, 600)),
    "litettsrateminspeed": ("rate_min_speed", lambda v: _number(v, 0.25, 1.0)),
    "litettsratemaxspeed": ("rate_max_speed", lambda v: _number(v, 1.0, 4.0)),
    "litettspitchmaxsemitones": ("pitch_max_semitones", lambda v: _number(v, 0, 12)),
    "litettsvolumemaxgain": ("volume_max_gain", lambda v: _number(v, 0, 4)),
    "litettspriority": ("priority", lambda v: _choice(v, PRIORITIES)),
    "litettssamplerate": ("sample_rate", _sample_rate),
    "litettsaudioblockbytes": ("audio_block_bytes", lambda v: _integer(v, 512, 65536) // 2 * 2),
    "litettssoundiconfolder": ("sound_icon_folder", str),
}
"""Lower-cased setting name -> (ModuleConfig field, converter that validates); dotconf names are case-insensitive."""


def _apply(values: dict[str, Any], name: str, args: list[str]) -> None:
    """Store one line's setting into ``values`` (field name -> value); raises ConfigError."""
    key = name.lower()
    if key == "litettsvoicetype":
        if len(args) != 2:
            raise ConfigError("needs a voice type and a voice id")
        values["voice_types"][_choice(args[0].lower(), VOICE_TYPES)] = args[1]
        return
    if key not in _SINGLE_VALUED:
        raise ConfigError("unknown setting")
    if len(args) != 1:
        raise ConfigError("needs exactly one value")
    attribute, convert = _SINGLE_VALUED[key]
    values[attribute] = convert(args[0])


def parse_config(lines: Iterable[str], source: str = "litetts.conf") -> ModuleConfig:
    """Settings from ``litetts.conf`` text; a bad line is logged and keeps its default.

    A module that refused to start over a typo would leave a blind user without speech,
    so nothing here is fatal.
    """
    defaults = ModuleConfig()
    values: dict[str, Any] = {"voice_types": dict(defaults.voice_types)}
    for number, line in enumerate(lines, 1):
        try:
            words = shlex.split(line, comments=True)
        except ValueError as exc:
            log.warning("%s:%d: ignored: %s", source, number, exc)
            continue
        if not words:
            continue
        try:
            _apply(values, words[0], words[1:])
        except ConfigError as exc:
            log.warning("%s:%d: %s ignored: %s", source, number, words[0], exc)
    if values.get("rate_min_speed", defaults.rate_min_speed) > values.get("rate_max_speed", defaults.rate_max_speed):
        log.warning("%s: LitettsRateMinSpeed is above LitettsRateMaxSpeed; both keep their defaults", source)
        values.pop("rate_min_speed")
        values.pop("rate_max_speed")
    return dataclasses.replace(defaults, **values)


def load_config(path: Path | None) -> ModuleConfig:
    """The module's configuration: ``path`` if given and readable, else the defaults."""
    if path is None:
        return ModuleConfig()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        log.warning("cannot read %s (%s); using the default settings", path, exc.strerror or exc)
        return ModuleConfig()
    return parse_config(text.splitlines(), str(path))


# -- SET ------------------------------------------------------------------------------


class SettingError(ValueError):
    """A ``SET`` block the module refuses; ``reply`` is the protocol line to send."""

    def __init__(self, reply: str, message: str) -> None:
        super().__init__(message)
        self.reply = reply


BAD_SYNTAX = "302 ERROR BAD SYNTAX"
INVALID_VALUE = "303 ERROR INVALID PARAMETER OR VALUE"


@dataclass(frozen=True)
class Settings:
    """The values of speech-dispatcher's last ``SET``, as it defines them."""

    rate: int = 0
    pitch: int = 0
    pitch_range: int = 0
    volume: int = 100
    punctuation_mode: str = "none"
    spelling_mode: bool = False
    cap_let_recogn: str = "none"
    voice: str = "male1"
    language: str | None = None
    synthesis_voice: str | None = None

    def updated(self, lines: Iterable[str]) -> Settings:
        """These settings with a ``SET`` block's ``name=value`` lines applied, all or none.

        Raises :class:`SettingError`: a line without ``=`` is bad syntax; a value out of
        range or not one of the names speech-dispatcher defines is invalid. Unknown names
        are logged and skipped, so a newer server's extra settings do not silence speech.
        """
        changes: dict[str, Any] = {}
        for line in lines:
            name, equals, value = line.partition("=")
            if not equals or not name:
                raise SettingError(BAD_SYNTAX, f"not name=value: {line!r}")
            if name in ("rate", "pitch", "pitch_range", "volume"):
                changes[name] = _scale(name, value)
            elif name == "punctuation_mode":
                changes[name] = _set_choice(name, value, PUNCTUATION_MODES)
            elif name == "spelling_mode":
                changes[name] = _set_choice(name, value, ("on", "off")) == "on"
            elif name == "cap_let_recogn":
                changes[name] = _set_choice(name, value, CAPITALS_MODES)
            elif name == "voice":
                changes[name] = _set_choice(name, value.lower(), VOICE_TYPES)
            elif name in ("language", "synthesis_voice"):
                changes[name] = None if value in ("NULL", "") else value
            else:
                log.info("SET: unknown setting %r ignored", name)
        return dataclasses.replace(self, **changes)


def _scale(name: str, value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise SettingError(INVALID_VALUE, f"{name}={value!r} is not a whole number") from None
    if not -100 <= number <= 100:
        raise SettingError(INVALID_VALUE, f"{name}={number} is outside -100..100")
    return number


def _set_choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise SettingError(INVALID_VALUE, f"{name}={value!r} is not one of {', '.join(choices)}")
    return value


def speed_for_rate(rate: int, config: ModuleConfig) -> float:
    """Exponential, so each rate step changes the pace by the same ratio on either side of 0."""
    limit = config.rate_max_speed if rate >= 0 else config.rate_min_speed
    return float(limit ** (abs(rate) / 100))


def pitch_for(pitch: int, config: ModuleConfig) -> float:
    """Semitones are how people hear pitch, so the multiplier is exponential in ``pitch``."""
    return float(2 ** (config.pitch_max_semitones * pitch / 100 / 12))


def gain_for_volume(volume: int, config: ModuleConfig) -> float:
    """Linear from silence at -100 to the configured gain at 100, as speech-dispatcher's own modules do."""
    return config.volume_max_gain * (volume + 100) / 200


def _language_matches(voice_language: str, wanted: str) -> bool:
    """Same primary language: an ``en-GB`` reader is better served by ``en-US`` than by silence."""
    return voice_language.lower().split("-")[0] == wanted.lower().replace("_", "-").split("-")[0]


def choose_voice(
    settings: Settings, config: ModuleConfig, voices: list[dict[str, Any]], default_voice: str | None = None
) -> str | None:
    """The voice id for a message, or ``None`` for the daemon's default voice.

    Order: the client's explicit synthesis voice, if installed; the voice configured for
    the voice type (``""``: the daemon's ``default_voice``), if installed and speaking the
    language; the first installed voice of the language (an exact ``en-GB`` match before
    any ``en``); the voice type's voice anyway; the daemon's default. A message is never
    silenced over a voice choice.
    """
    languages = {str(v["id"]): str(v.get("language", "")) for v in voices}
    if settings.synthesis_voice is not None:
        if settings.synthesis_voice in languages:
            return settings.synthesis_voice
        log.warning("synthesis voice %r is not installed; choosing by voice type", settings.synthesis_voice)
    configured = config.voice_types.get(settings.voice) or None
    if configured is not None and configured not in languages:
        log.info("voice %r for %s is not installed", configured, settings.voice)
        configured = None
    wanted = settings.language
    if wanted is None:
        return configured
    # speech-dispatcher sends a language with nearly every message: the daemon's default
    # voice must win when it speaks it, not merely the first voice listed for it.
    candidate = configured or default_voice
    if candidate in languages and _language_matches(languages[candidate], wanted):
        return configured
    exact = [vid for vid, lang in languages.items() if lang.lower() == wanted.lower().replace("_", "-")]
    close = [vid for vid, lang in languages.items() if _language_matches(lang, wanted)]
    if exact or close:
        return (exact or close)[0]
    log.info("no voice speaks %r; using the voice for %s", wanted, settings.voice)
    return configured


def daemon_fields(
    settings: Settings, config: ModuleConfig, voices: list[dict[str, Any]], default_voice: str | None = None
) -> dict[str, Any]:
    """The daemon request fields for a message under ``settings`` (everything but the text).

    ``pitch_range`` has no daemon counterpart (the voices have no intonation-range
    control), so it is accepted and ignored. ``cap_let_recogn=icon`` is the module's own
    (a sound before a capital letter, see :class:`SpeechdModule`), so the daemon gets ``none``.
    """
    fields: dict[str, Any] = {
        "format": "pcm",
        "speed": speed_for_rate(settings.rate, config),
        "pitch": pitch_for(settings.pitch, config),
        "volume": gain_for_volume(settings.volume, config),
        "punctuation": settings.punctuation_mode,
        "spell": settings.spelling_mode,
        "capitals": "none" if settings.cap_let_recogn == "icon" else settings.cap_let_recogn,
        "priority": config.priority,
    }
    voice = choose_voice(settings, config, voices, default_voice)
    if voice is not None:
        fields["voice"] = voice
    if config.sample_rate:
        fields["sample_rate"] = config.sample_rate
    return fields
