"""A Pipe-mode reader for tests, plain stdlib: reads <channel>_0 .. _N-1 and checks every byte and every
RecordIO frame against the objects in the store. The expected order is computed here from the shuffle
algorithm documented in DeterministicShuffle.cs, independently of the C# code.

usage: pipe_reader.py config.json
config: {"data_dir", "channel", "epochs", "files": [paths in key order], "gzip": bool, "recordio": bool,
         "seed": int | null, "timeout": seconds}
"""
import gzip
import json
import os
import stat
import struct
import sys
import time

MASK = (1 << 64) - 1
MAGIC = 0xCED7230A


def mix(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def shuffle(items, seed, epoch):
    items = list(items)
    state = mix(mix(seed & MASK) ^ (epoch & MASK))
    for i in range(len(items) - 1, 0, -1):
        bound = i + 1
        threshold = ((1 << 64) - bound) % bound
        while True:
            state = (state + 0x9E3779B97F4A7C15) & MASK
            r = mix(state)
            if r >= threshold:
                j = r % bound
                break
        items[i], items[j] = items[j], items[i]
    return items


def read_exactly(f, n):
    chunks = []
    while n > 0:
        b = f.read(n)
        if not b:
            raise AssertionError("unexpected EOF")
        chunks.append(b)
        n -= len(b)
    return b"".join(chunks)


def wait_fifo(path, deadline):
    while time.monotonic() < deadline:
        try:
            if stat.S_ISFIFO(os.stat(path).st_mode):
                return
        except FileNotFoundError:
            pass
        time.sleep(0.01)
    raise AssertionError(f"{path} did not appear")


def expected_payload(path, is_gzip):
    with open(path, "rb") as f:
        data = f.read()
    return gzip.decompress(data) if is_gzip else data


def check_recordio(f, payload, name):
    """Reads one record's frames, checking flags, lengths and padding, and compares the joined payload."""
    parts = []
    frames = 0
    while True:
        header = read_exactly(f, 8)
        magic, word = struct.unpack("<II", header)
        assert magic == MAGIC, f"{name}: bad magic {magic:#x}"
        cflag, length = word >> 29, word & ((1 << 29) - 1)
        if frames == 0:
            assert cflag in (0, 1), f"{name}: first frame has cflag {cflag}"
        else:
            assert cflag in (2, 3), f"{name}: continuation frame has cflag {cflag}"
        body = read_exactly(f, length + (-length % 4))
        assert body[length:] == b"\0" * (-length % 4), f"{name}: padding not zero"
        parts.append(body[:length])
        frames += 1
        if cflag in (0, 3):
            break
    joined = struct.pack("<I", MAGIC).join(parts)
    assert joined == payload, f"{name}: record differs ({len(joined)} vs {len(payload)} bytes)"
    return frames


def main():
    with open(sys.argv[1]) as f:
        config = json.load(f)
    deadline = time.monotonic() + config.get("timeout", 60)
    total_frames = 0
    total_bytes = 0
    for epoch in range(config["epochs"]):
        files = config["files"]
        if config.get("seed") is not None:
            files = shuffle(files, config["seed"], epoch)
        path = os.path.join(config["data_dir"], f"{config['channel']}_{epoch}")
        wait_fifo(path, deadline)
        with open(path, "rb", buffering=1 << 20) as fifo:
            for name in files:
                payload = expected_payload(name, config.get("gzip", False))
                if config.get("recordio", False):
                    total_frames += check_recordio(fifo, payload, name)
                else:
                    got = read_exactly(fifo, len(payload)) if payload else b""
                    assert got == payload, f"epoch {epoch}: {name} differs"
                total_bytes += len(payload)
            assert fifo.read(1) == b"", f"epoch {epoch}: data after the last object"
    print(f"ok epochs={config['epochs']} bytes={total_bytes} frames={total_frames}")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--shuffle":
        print(shuffle(list(range(int(sys.argv[2]))), int(sys.argv[3]), 0))
    else:
        main()
