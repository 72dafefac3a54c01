"""onnxruntime through its C API, loaded with ctypes: what the daemon uses of it, and no more.

Why not the ``onnxruntime`` Python module: start-up. Importing it holds the interpreter lock
for ~70 ms on the 2-core CI machine (numpy, then pybind11 registering its types), and no
session could begin to open before it was done: exec to READY was that import, then the
session, with the daemon's own imports squeezed in beside the session. The wheel (1.19 and
later) ships the same runtime as a C library, ``onnxruntime/capi/libonnxruntime.so.<version>``.
Its long calls (loading it, see ``_dlopen_unlocked``; ``CreateEnv``, ``CreateSession``,
``Run``, ``ReleaseSession``: ``_UNLOCKED``) are made without the interpreter lock, so the start-up voice's session opens on a thread (see
``prefetch``) while the daemon imports numpy, the event loop and its plugins. Nothing here
imports numpy until a session runs. Exec to READY with the default voice took 0.857 of the
time it took through the Python module (13 alternating starts: 200 against 236 ms), and 0.93
of the floor (a bare interpreter importing the module, opening the graph, one inference).

The classes mirror the part of the Python module the daemon and engine plugins use, under
the same names: ``SessionOptions`` (only fields and config entries, which are plain values
applied when a session opens, so they can be recorded and compared), ``RunOptions``
(``terminate``), ``InferenceSession`` (``run``, ``get_inputs``, ``get_outputs``: numeric
tensors only), ``GraphOptimizationLevel``, ``ExecutionMode``. Every failure onnxruntime
reports is an ``OrtError`` with its message. The functions are called through the ``OrtApi``
table by index: the table only ever grows, so the indices below hold for every onnxruntime
since the version they come from (API version 13), and ``GetApi`` refuses an older one.
"""

from __future__ import annotations

import ctypes
import enum
import importlib.util
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    import numpy as np

API_VERSION = 13
"""The ``OrtApi`` version whose layout the indices below follow."""

_c = ctypes
_P = _c.c_void_p
_PP = _c.POINTER(_c.c_void_p)
_STATUS = _c.c_void_p

# index in OrtApi, return type, argument types
_FUNCTIONS: dict[str, tuple[int, Any, tuple[Any, ...]]] = {
    "GetErrorMessage": (2, _c.c_char_p, (_STATUS,)),
    "CreateEnv": (3, _STATUS, (_c.c_int, _c.c_char_p, _PP)),
    "CreateSession": (7, _STATUS, (_P, _c.c_char_p, _P, _PP)),
    "Run": (9, _STATUS, (_P, _P, _c.POINTER(_c.c_char_p), _PP, _c.c_size_t, _c.POINTER(_c.c_char_p), _c.c_size_t, _PP)),
    "CreateSessionOptions": (10, _STATUS, (_PP,)),
    "SetOptimizedModelFilePath": (11, _STATUS, (_P, _c.c_char_p)),
    "SetSessionExecutionMode": (13, _STATUS, (_P, _c.c_int)),
    "EnableProfiling": (14, _STATUS, (_P, _c.c_char_p)),
    "EnableMemPattern": (16, _STATUS, (_P,)),
    "DisableMemPattern": (17, _STATUS, (_P,)),
    "EnableCpuMemArena": (18, _STATUS, (_P,)),
    "DisableCpuMemArena": (19, _STATUS, (_P,)),
    "SetSessionLogSeverityLevel": (22, _STATUS, (_P, _c.c_int)),
    "SetSessionGraphOptimizationLevel": (23, _STATUS, (_P, _c.c_int)),
    "SetIntraOpNumThreads": (24, _STATUS, (_P, _c.c_int)),
    "SetInterOpNumThreads": (25, _STATUS, (_P, _c.c_int)),
    "SessionGetInputCount": (30, _STATUS, (_P, _c.POINTER(_c.c_size_t))),
    "SessionGetOutputCount": (31, _STATUS, (_P, _c.POINTER(_c.c_size_t))),
    "SessionGetInputName": (36, _STATUS, (_P, _c.c_size_t, _P, _PP)),
    "SessionGetOutputName": (37, _STATUS, (_P, _c.c_size_t, _P, _PP)),
    "CreateRunOptions": (39, _STATUS, (_PP,)),
    "RunOptionsSetTerminate": (46, _STATUS, (_P,)),
    "RunOptionsUnsetTerminate": (47, _STATUS, (_P,)),
    "CreateTensorWithDataAsOrtValue": (
        49, _STATUS, (_P, _P, _c.c_size_t, _c.POINTER(_c.c_int64), _c.c_size_t, _c.c_int, _PP),
    ),
    "GetTensorMutableData": (51, _STATUS, (_P, _PP)),
    "GetTensorElementType": (60, _STATUS, (_P, _c.POINTER(_c.c_int))),
    "GetDimensionsCount": (61, _STATUS, (_P, _c.POINTER(_c.c_size_t))),
    "GetDimensions": (62, _STATUS, (_P, _c.POINTER(_c.c_int64), _c.c_size_t)),
    "GetTensorTypeAndShape": (65, _STATUS, (_P, _PP)),
    "CreateCpuMemoryInfo": (69, _STATUS, (_c.c_int, _c.c_int, _PP)),
    "AllocatorFree": (76, _STATUS, (_P, _P)),
    "GetAllocatorWithDefaultOptions": (78, _STATUS, (_PP,)),
    "AddSessionConfigEntry": (130, _STATUS, (_P, _c.c_char_p, _c.c_char_p)),
    "CreateAndRegisterAllocator": (144, _STATUS, (_P, _P, _P)),
    "CreateArenaCfgV2": (164, _STATUS, (_c.POINTER(_c.c_char_p), _c.POINTER(_c.c_size_t), _c.c_size_t, _PP)),
    "ReleaseStatus": (93, None, (_P,)),
    "ReleaseSession": (95, None, (_P,)),
    "ReleaseValue": (96, None, (_P,)),
    "ReleaseRunOptions": (97, None, (_P,)),
    "ReleaseTensorTypeAndShapeInfo": (99, None, (_P,)),
    "ReleaseSessionOptions": (100, None, (_P,)),
    "ReleaseArenaCfg": (157, None, (_P,)),
}

_UNLOCKED = frozenset({"CreateEnv", "CreateSession", "Run", "ReleaseSession"})
"""The calls made without the interpreter lock: the long ones. Every other call keeps it. A
thread that gives the lock up must wait to take it back while another thread runs Python, up
to the switch interval (5 ms): the dozen short calls around one ``Run``, or the thirty before
``CreateSession`` at start-up (while the main thread imports), would each risk that wait."""

_ELEMENT_TYPES = {
    1: "float32", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32", 7: "int64", 9: "bool",
    10: "float16", 11: "float64", 12: "uint32", 13: "uint64",
}  # fmt: skip
"""ONNXTensorElementDataType values and the numpy types they are."""
_ELEMENT_CODES = {name: code for code, name in _ELEMENT_TYPES.items()}
_ARENA_ALLOCATOR, _MEM_TYPE_DEFAULT = 1, 0
_LOG_WARNING = 2


class OrtError(RuntimeError):
    """onnxruntime refused or failed a call; the message is its own."""


class GraphOptimizationLevel(enum.IntEnum):
    """How far onnxruntime rewrites a graph as it loads it (as in its Python module)."""

    ORT_DISABLE_ALL = 0
    ORT_ENABLE_BASIC = 1
    ORT_ENABLE_EXTENDED = 2
    ORT_ENABLE_ALL = 99


class ExecutionMode(enum.IntEnum):
    """Whether a session runs independent nodes one after the other or side by side."""

    ORT_SEQUENTIAL = 0
    ORT_PARALLEL = 1


class _Library:
    """The loaded library, its API table bound to Python callables, and the process's one environment."""

    def __init__(self, path: Path) -> None:
        _dlopen_unlocked(path)
        library = ctypes.CDLL(str(path))  # found loaded: quick
        base = library.OrtGetApiBase
        base.restype = ctypes.POINTER(ctypes.c_void_p * 2)  # GetApi, GetVersionString
        table = base().contents
        get_api = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_uint32)(table[0])
        self.version = ctypes.CFUNCTYPE(ctypes.c_char_p)(table[1])().decode()
        api = get_api(API_VERSION)
        if not api:
            raise OrtError(f"onnxruntime {self.version} at {path} is older than litettsd supports (API version {API_VERSION})")
        pointers = ctypes.cast(api, ctypes.POINTER(ctypes.c_void_p))
        self._functions: dict[str, Callable[..., Any]] = {}
        for name, (index, result, arguments) in _FUNCTIONS.items():
            prototype = ctypes.CFUNCTYPE if name in _UNLOCKED else ctypes.PYFUNCTYPE
            self._functions[name] = prototype(result, *arguments)(pointers[index])
        self.env = ctypes.c_void_p()
        self.check(self.CreateEnv(_LOG_WARNING, b"litettsd", ctypes.byref(self.env)))
        self.cpu_memory = ctypes.c_void_p()
        self.check(self.CreateCpuMemoryInfo(_ARENA_ALLOCATOR, _MEM_TYPE_DEFAULT, ctypes.byref(self.cpu_memory)))
        self.allocator = ctypes.c_void_p()
        self.check(self.GetAllocatorWithDefaultOptions(ctypes.byref(self.allocator)))

    def __getattr__(self, name: str) -> Callable[..., Any]:
        """``lib.Run(...)`` and the like: a function of the table, bound in ``__init__``."""
        try:
            return self.__dict__["_functions"][name]  # type: ignore[no-any-return]
        except KeyError:
            raise AttributeError(name) from None

    def check(self, status: int | None) -> None:
        """Raise ``OrtError`` with onnxruntime's message when ``status`` is an error."""
        if status:
            message = self.GetErrorMessage(status).decode(errors="replace")
            self.ReleaseStatus(status)
            raise OrtError(message)


def _dlopen_unlocked(path: Path) -> None:
    """Load ``path`` as ``ctypes.CDLL`` would, but without the interpreter lock.

    ``ctypes.CDLL`` holds the lock through ``dlopen``, which maps and relocates this 35 MB
    library; libc's ``dlopen`` called as a foreign function releases it, so start-up's imports
    go on meanwhile. The handle is never closed: the library stays for the process's life.
    """
    try:
        dlopen = ctypes.CDLL(None).dlopen
    except AttributeError:  # a libc without it in the global scope: CDLL loads it, lock held
        return
    dlopen.restype = ctypes.c_void_p
    dlopen.argtypes = (ctypes.c_char_p, ctypes.c_int)
    dlopen(os.fsencode(path), os.RTLD_NOW | os.RTLD_LOCAL)  # as CDLL's mode; a failure is CDLL's to report


def _c_int(name: str, value: Any) -> int:
    """``value`` as a C int, refused rather than wrapped when it does not fit."""
    number = int(value)
    if ctypes.c_int(number).value != number:
        raise OrtError(f"{name} = {value!r} is out of range")
    return number


def _c_path(path: str | os.PathLike[str]) -> bytes:
    """``path`` for the C API, refused when a NUL would cut it short."""
    encoded = os.fsencode(path)
    if b"\0" in encoded:
        raise OrtError(f"a path with a NUL character: {path!r}")
    return encoded


class _Native:
    """Owns one onnxruntime handle (``_handle``), released once by ``_RELEASE``. A copy would
    share the handle and release it a second time, so copies and pickles are refused."""

    _RELEASE: str
    """The name of the function of the table that releases the handle."""
    _lib: _Library
    _handle: ctypes.c_void_p

    def __del__(self) -> None:
        if getattr(self, "_handle", None):  # not set when __init__ failed early
            getattr(self._lib, self._RELEASE)(self._handle)
            self._handle = ctypes.c_void_p()

    def __copy__(self) -> Any:
        raise TypeError(f"{type(self).__name__} cannot be copied")

    def __deepcopy__(self, memo: Any) -> Any:
        raise TypeError(f"{type(self).__name__} cannot be copied")

    def __reduce_ex__(self, protocol: Any) -> Any:
        raise TypeError(f"{type(self).__name__} cannot be pickled")


_LIBRARY: _Library | None = None
_LOCK = threading.Lock()


def library_path() -> Path:
    """Where the installed onnxruntime wheel keeps its C library (found without importing it)."""
    spec = importlib.util.find_spec("onnxruntime")
    if spec is None or not spec.submodule_search_locations:
        raise OrtError("onnxruntime is not installed")
    capi = Path(next(iter(spec.submodule_search_locations))) / "capi"
    found = sorted(capi.glob("libonnxruntime.so*"), key=lambda path: len(path.name))
    if not found:
        raise OrtError(f"no libonnxruntime.so in {capi}")
    return found[0]


def _lib() -> _Library:
    global _LIBRARY
    with _LOCK:
        if _LIBRARY is None:
            _LIBRARY = _Library(library_path())
        return _LIBRARY


def version() -> str:
    """The loaded onnxruntime's version, e.g. ``1.32.0``."""
    return _lib().version


def share_arena(first_region: int) -> None:
    """Register one CPU arena for every session that sets ``session.use_env_allocators``."""
    lib = _lib()
    keys = (ctypes.c_char_p * 1)(b"initial_chunk_size_bytes")
    values = (ctypes.c_size_t * 1)(first_region)
    arena = ctypes.c_void_p()
    lib.check(lib.CreateArenaCfgV2(keys, values, 1, ctypes.byref(arena)))
    try:
        lib.check(lib.CreateAndRegisterAllocator(lib.env, lib.cpu_memory, arena))
    finally:
        lib.ReleaseArenaCfg(arena)


class SessionOptions:
    """Options for a session, as plain fields (names and defaults of onnxruntime's Python
    module); they reach onnxruntime only when a session opens with them."""

    __slots__ = (
        "intra_op_num_threads", "inter_op_num_threads", "execution_mode", "graph_optimization_level",
        "enable_mem_pattern", "enable_cpu_mem_arena", "log_severity_level", "optimized_model_filepath",
        "enable_profiling", "profile_file_prefix", "_entries",
    )  # fmt: skip

    def __init__(self) -> None:
        self.intra_op_num_threads = 0
        self.inter_op_num_threads = 0
        self.execution_mode = ExecutionMode.ORT_SEQUENTIAL
        self.graph_optimization_level = GraphOptimizationLevel.ORT_ENABLE_ALL
        self.enable_mem_pattern = True
        self.enable_cpu_mem_arena = True
        self.log_severity_level = -1
        """-1: the environment's (warnings and worse)."""
        self.optimized_model_filepath = ""
        self.enable_profiling = False
        self.profile_file_prefix = "onnxruntime_profile_"
        self._entries: dict[str, str] = {}

    @classmethod
    def fields(cls) -> tuple[str, ...]:
        """The names of the settable fields, config entries aside."""
        return tuple(name for name in cls.__slots__ if not name.startswith("_"))

    def add_session_config_entry(self, key: str, value: str) -> None:
        """Set a session config entry (``session.intra_op.allow_spinning``...)."""
        self._entries[str(key)] = str(value)

    def get_session_config_entry(self, key: str) -> str:
        """An entry's value; ``OrtError`` (a ``RuntimeError``, as onnxruntime's module raises)
        when it was never set."""
        try:
            return self._entries[key]
        except KeyError:
            raise OrtError(f"SessionOptions does not have configuration with key: {key}") from None

    @property
    def entries(self) -> dict[str, str]:
        """Every config entry set, in order."""
        return dict(self._entries)

    def _open(self, lib: _Library) -> ctypes.c_void_p:
        """These options as onnxruntime's own; the caller releases them."""
        handle = ctypes.c_void_p()
        lib.check(lib.CreateSessionOptions(ctypes.byref(handle)))
        try:
            lib.check(lib.SetIntraOpNumThreads(handle, _c_int("intra_op_num_threads", self.intra_op_num_threads)))
            lib.check(lib.SetInterOpNumThreads(handle, _c_int("inter_op_num_threads", self.inter_op_num_threads)))
            lib.check(lib.SetSessionExecutionMode(handle, _c_int("execution_mode", self.execution_mode)))
            level = _c_int("graph_optimization_level", self.graph_optimization_level)
            lib.check(lib.SetSessionGraphOptimizationLevel(handle, level))
            lib.check((lib.EnableMemPattern if self.enable_mem_pattern else lib.DisableMemPattern)(handle))
            lib.check((lib.EnableCpuMemArena if self.enable_cpu_mem_arena else lib.DisableCpuMemArena)(handle))
            if self.log_severity_level >= 0:
                lib.check(lib.SetSessionLogSeverityLevel(handle, _c_int("log_severity_level", self.log_severity_level)))
            if self.optimized_model_filepath:
                lib.check(lib.SetOptimizedModelFilePath(handle, _c_path(self.optimized_model_filepath)))
            if self.enable_profiling:
                lib.check(lib.EnableProfiling(handle, _c_path(self.profile_file_prefix)))
            for key, value in self._entries.items():
                lib.check(lib.AddSessionConfigEntry(handle, key.encode(), value.encode()))
        except BaseException:
            lib.ReleaseSessionOptions(handle)
            raise
        return handle


class RunOptions(_Native):
    """Per-run options; setting ``terminate`` from any thread aborts the run in progress."""

    _RELEASE = "ReleaseRunOptions"

    def __init__(self) -> None:
        self._lib = _lib()
        self._handle = ctypes.c_void_p()
        self._lib.check(self._lib.CreateRunOptions(ctypes.byref(self._handle)))
        self._terminate = False
        self._lock = threading.Lock()
        """Keeps ``_terminate`` and onnxruntime's flag equal when two threads set it at once."""

    @property
    def terminate(self) -> bool:
        return self._terminate

    @terminate.setter
    def terminate(self, value: bool) -> None:
        with self._lock:
            setter = self._lib.RunOptionsSetTerminate if value else self._lib.RunOptionsUnsetTerminate
            self._lib.check(setter(self._handle))
            self._terminate = bool(value)


class NodeArg(NamedTuple):
    """A graph input or output: only its name is needed here."""

    name: str


class InferenceSession(_Native):
    """A model loaded for inference on the CPU (the subset of onnxruntime's class we use)."""

    _RELEASE = "ReleaseSession"

    def __init__(self, path: str | Path, sess_options: SessionOptions | None = None, providers: Sequence[str] = ()) -> None:
        if any(provider != "CPUExecutionProvider" for provider in providers):
            raise OrtError(f"only the CPU execution provider is available here, not {list(providers)}")
        self._lib = lib = _lib()
        self._model_path = str(path)
        self._handle = ctypes.c_void_p()
        options = (sess_options or SessionOptions())._open(lib)
        try:
            lib.check(lib.CreateSession(lib.env, _c_path(self._model_path), options, ctypes.byref(self._handle)))
        finally:
            lib.ReleaseSessionOptions(options)
        self._inputs = self._names(lib.SessionGetInputCount, lib.SessionGetInputName)
        self._outputs = self._names(lib.SessionGetOutputCount, lib.SessionGetOutputName)

    def _names(self, count_of: Any, name_of: Any) -> list[NodeArg]:
        lib = self._lib
        count = ctypes.c_size_t()
        lib.check(count_of(self._handle, ctypes.byref(count)))
        names = []
        for index in range(count.value):
            name = ctypes.c_void_p()
            lib.check(name_of(self._handle, index, lib.allocator, ctypes.byref(name)))
            try:
                names.append(NodeArg(ctypes.string_at(name).decode()))
            finally:
                lib.check(lib.AllocatorFree(lib.allocator, name))
        return names

    def get_inputs(self) -> list[NodeArg]:
        return list(self._inputs)

    def get_outputs(self) -> list[NodeArg]:
        return list(self._outputs)

    def run(
        self, output_names: Sequence[str] | None, input_feed: Mapping[str, Any], run_options: RunOptions | None = None
    ) -> list[np.ndarray]:
        """The outputs asked for (all when None), as numpy arrays of their own."""
        import numpy as np

        lib = self._lib
        names = list(output_names) if output_names else [output.name for output in self._outputs]
        arrays = [np.asarray(value, order="C") for value in input_feed.values()]
        arrays = [a if a.dtype.isnative else a.astype(a.dtype.newbyteorder("=")) for a in arrays]
        inputs = (ctypes.c_void_p * len(arrays))()
        try:
            for index, array in enumerate(arrays):
                inputs[index] = self._tensor(array)
            outputs = (ctypes.c_void_p * len(names))()
            lib.check(
                lib.Run(
                    self._handle, run_options._handle if run_options is not None else None,
                    (ctypes.c_char_p * len(arrays))(*(name.encode() for name in input_feed)),
                    inputs, len(arrays),
                    (ctypes.c_char_p * len(names))(*(name.encode() for name in names)), len(names),
                    outputs,
                )  # fmt: skip
            )
        finally:
            for value in inputs:
                lib.ReleaseValue(value)
        try:
            return [self._array(value) for value in outputs]
        finally:
            for value in outputs:
                lib.ReleaseValue(value)

    def _tensor(self, array: np.ndarray) -> int:
        """An OrtValue over ``array``'s own memory (the caller keeps ``array`` alive)."""
        lib = self._lib
        element = _ELEMENT_CODES.get(array.dtype.name)
        if element is None:
            raise OrtError(f"unsupported input type {array.dtype}")
        shape = (ctypes.c_int64 * array.ndim)(*array.shape)
        value = ctypes.c_void_p()
        lib.check(
            lib.CreateTensorWithDataAsOrtValue(
                lib.cpu_memory, array.ctypes.data, array.nbytes, shape, array.ndim, element, ctypes.byref(value)
            )
        )
        return value.value or 0

    def _array(self, value: int | None) -> np.ndarray:
        """A copy of a tensor OrtValue's data."""
        import numpy as np

        if not value:
            raise OrtError("onnxruntime gave no value for an output")
        lib = self._lib
        info = ctypes.c_void_p()
        lib.check(lib.GetTensorTypeAndShape(value, ctypes.byref(info)))
        try:
            element = ctypes.c_int()
            lib.check(lib.GetTensorElementType(info, ctypes.byref(element)))
            rank = ctypes.c_size_t()
            lib.check(lib.GetDimensionsCount(info, ctypes.byref(rank)))
            dims = (ctypes.c_int64 * rank.value)()
            lib.check(lib.GetDimensions(info, dims, rank.value))
        finally:
            lib.ReleaseTensorTypeAndShapeInfo(info)
        if element.value not in _ELEMENT_TYPES:
            raise OrtError(f"unsupported output type {element.value}")
        dtype = np.dtype(_ELEMENT_TYPES[element.value])
        shape = tuple(dims)
        size = int(np.prod(shape, dtype=np.int64)) if shape else 1
        data = ctypes.c_void_p()
        lib.check(lib.GetTensorMutableData(value, ctypes.byref(data)))
        if size == 0:
            return np.zeros(shape, dtype)
        buffer = (ctypes.c_char * (size * dtype.itemsize)).from_address(data.value or 0)
        return np.frombuffer(memoryview(buffer), dtype).reshape(shape).copy()
