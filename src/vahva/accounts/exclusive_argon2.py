"""argon2id with the core to itself: computed while holding Python's GIL.

argon2-cffi releases the GIL while it hashes, so that other threads run meanwhile. That pays
when they can run on another core. When they cannot (a process with one core, or less than
two cores' share of the machine per ``vahva serve`` worker), they run on the hash's core,
taking turns with it. Every turn costs CPU, most likely the core's caches: the hash streams
through 19 MiB and evicts the Python code and objects of the requests around it, which then
run from memory (bench/README.md, "Ninth session"). Measured on one core under four
concurrent sign-ins, a sign-in cost 5-8 % less CPU with the hash holding the GIL, and
bench/hash_turns.py shows the same on a fixed mix of hashes and page renders.

The same C functions argon2-cffi calls (the reference implementation it ships), called
through :class:`ctypes.PyDLL`, which keeps the GIL; results, errors and encodings are as
argon2-cffi's :func:`~argon2.low_level.verify_secret` and
:func:`~argon2.low_level.hash_secret`. Where the library cannot be loaded so, nothing changes:
:func:`available` is false and the hasher keeps argon2-cffi's calls.

While a hash runs, nothing else in the process does (the event loop included): ~20 ms, which
on one busy core the other threads would have waited for anyway, in turns.
"""

from __future__ import annotations

import ctypes
import functools
import importlib.util
import os
from pathlib import Path

from argon2.exceptions import HashingError, InvalidHashError
from argon2.low_level import ARGON2_VERSION, Type, error_to_str

ARGON2_OK = 0

#: The hash's header, as argon2-cffi's ``PasswordHasher.verify`` reads the type from it.
_TYPE_OF_HEADER = {b"$argon2i$": Type.I, b"$argon2d$": Type.D, b"$argon2id": Type.ID}


@functools.cache
def _library() -> ctypes.PyDLL | None:
    """argon2-cffi's compiled module, opened so that its calls keep the GIL; None where it
    cannot be (another platform, another build)."""
    spec = importlib.util.find_spec("_argon2_cffi_bindings")
    if spec is None or spec.origin is None:
        return None
    for candidate in sorted(Path(spec.origin).parent.glob("_ffi*.so")):
        try:
            library = ctypes.PyDLL(str(candidate))
            verify, hash_, encodedlen = (
                library.argon2_verify,
                library.argon2_hash,
                library.argon2_encodedlen,
            )
        except (OSError, AttributeError):
            continue
        verify.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int]
        verify.restype = ctypes.c_int
        hash_.argtypes = [
            ctypes.c_uint32,  # t_cost
            ctypes.c_uint32,  # m_cost
            ctypes.c_uint32,  # parallelism
            ctypes.c_char_p,  # pwd
            ctypes.c_size_t,  # pwdlen
            ctypes.c_char_p,  # salt
            ctypes.c_size_t,  # saltlen
            ctypes.c_void_p,  # hash (raw output: not wanted)
            ctypes.c_size_t,  # hashlen
            ctypes.c_char_p,  # encoded
            ctypes.c_size_t,  # encodedlen
            ctypes.c_int,  # type
            ctypes.c_int,  # version
        ]
        hash_.restype = ctypes.c_int
        encodedlen.argtypes = [ctypes.c_uint32] * 5 + [ctypes.c_int]
        encodedlen.restype = ctypes.c_size_t
        return library
    return None


def available() -> bool:
    return _library() is not None


def verify(encoded: bytes, secret: bytes) -> bool:
    """Whether ``secret`` matches ``encoded`` (``$argon2id$v=19$...``), as argon2-cffi's
    ``PasswordHasher().verify`` decides, but False where it raises a verification error.
    An unknown header raises :class:`~argon2.exceptions.InvalidHashError`, as there."""
    library = _library()
    assert library is not None, "check available() first"
    type_ = _TYPE_OF_HEADER.get(encoded[:9])
    if type_ is None:
        raise InvalidHashError
    result: int = library.argon2_verify(encoded, secret, len(secret), type_.value)
    return result == ARGON2_OK


def hash_secret(
    secret: bytes,
    salt: bytes,
    *,
    time_cost: int,
    memory_cost: int,
    parallelism: int,
    hash_len: int,
    type: Type,
) -> bytes:
    """The encoded hash (``$argon2id$v=19$...``), as :func:`argon2.low_level.hash_secret`."""
    library = _library()
    assert library is not None, "check available() first"
    if not all(0 <= value < 2**32 for value in (time_cost, memory_cost, parallelism, hash_len)):
        # ctypes would cut a larger value to 32 bits, another cost than the one asked for.
        raise OverflowError("argon2 parameters are 32-bit unsigned integers")
    size = (
        library.argon2_encodedlen(
            time_cost, memory_cost, parallelism, len(salt), hash_len, type.value
        )
        + 1
    )
    buffer = ctypes.create_string_buffer(size)
    result: int = library.argon2_hash(
        time_cost,
        memory_cost,
        parallelism,
        secret,
        len(secret),
        salt,
        len(salt),
        None,
        hash_len,
        buffer,
        size,
        type.value,
        ARGON2_VERSION,
    )
    if result != ARGON2_OK:
        raise HashingError(error_to_str(result))
    return buffer.value


# --- when -------------------------------------------------------------------------------------


#: cgroup v2's CPU limit of this process's group: "<quota> <period>", or "max <period>".
CPU_MAX = Path("/sys/fs/cgroup/cpu.max")


def cores(cpu_max: Path = CPU_MAX) -> float:
    """The cores this process may use: its CPU affinity, within its cgroup's CPU quota."""
    count: float = len(os.sched_getaffinity(0))
    try:
        quota, period = cpu_max.read_text().split()[:2]
        if quota != "max":
            count = min(count, int(quota) / int(period))
    except (OSError, ValueError, ZeroDivisionError):
        pass  # no cgroup v2 limit here (or none that makes sense)
    return count


def wanted(setting: str, workers: int) -> bool:
    """Whether to hash holding the GIL: ``setting`` is "always", "never" or "auto"; auto is
    yes when each of the ``workers`` processes has no second core for its other threads
    (fewer than two cores each)."""
    if setting == "auto":
        return cores() / max(workers, 1) < 2 and available()
    return setting == "always" and available()
