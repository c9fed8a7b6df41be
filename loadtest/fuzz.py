"""Fuzz every decoder with generated and mutated inputs; count crashes (any exception other than the
decoder's DecodeError) and hangs (an input taking longer than --hang-ms).

    python -m loadtest.fuzz [--inputs 100000] [--seed 1]

Inputs per decoder: mutations (bit flips, truncation, splices, duplicated spans, random bytes) of valid
seeds from the spec examples, plus purely random bytes. Prints one table row per decoder."""

import argparse
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson

from receiver.decode import DecodeError, decode_bulkdata
from receiver.decode._lwm2m import decode_lwm2m

REPO = Path(__file__).resolve().parents[1]
SPEC = REPO / "tests" / "decode" / "testdata" / "bulkdata"


@dataclass
class Target:
    name: str
    decode: Callable[[bytes], object]
    seeds: list[bytes]


def _bulk(content_type: str | None, fmt: str | None) -> Callable[[bytes], object]:
    return lambda body: decode_bulkdata(body, content_type=content_type, report_format=fmt)


def targets() -> list[Target]:
    csv_seeds = [
        (p / "body").read_bytes()
        for p in sorted(SPEC.iterdir())
        if not (p / "body").read_bytes().lstrip().startswith(b"{")
    ]
    json_seeds = [
        (p / "body").read_bytes()
        for p in sorted(SPEC.iterdir())
        if (p / "body").read_bytes().lstrip().startswith(b"{")
    ]
    found = [
        Target("bulkdata CSV ParameterPerRow", _bulk("text/csv", "ParameterPerRow"), csv_seeds),
        Target("bulkdata CSV ParameterPerColumn", _bulk("text/csv", "ParameterPerColumn"), csv_seeds),
        Target("bulkdata CSV sniffed", _bulk(None, None), csv_seeds),
        Target("bulkdata JSON", _bulk("application/json", None), json_seeds),
        Target(
            "LwM2M JSON",
            lambda body: decode_lwm2m("lwm2m/ep/reg", body),
            [
                orjson.dumps(
                    {
                        "endpoint": "ep",
                        "lifetime": 60,
                        "objects": {"3": {"0": {"0": "x", "9": 85}}, "3303": {"0": {"5700": 1.5}}},
                    }
                ),
                orjson.dumps([{"bn": "/3303/0/", "n": "5700", "v": 21.5}]),
            ],
        ),
    ]
    found += _optional_targets()
    return found


def _optional_targets() -> list[Target]:
    """Decoders whose bindings are generated at build time, and inputs that may not be present."""
    extra: list[Target] = []
    try:
        from loadtest.sparkplug_sim import EdgeNode
        from receiver.decode.sparkplug import decode_payload

        edge = EdgeNode("G", "N", ["d"], 5)
        extra.append(
            Target(
                "Sparkplug B payload",
                decode_payload,
                [edge.nbirth_payload(), edge.dbirth_payload("d"), edge.ddata_payload("d", [1, 2, 3, 4, 5])],
            )
        )
    except ImportError:
        pass
    try:
        from loadtest.usp_agent import build_push_record
        from receiver.decode.usp import decode_usp_bulkdata

        extra.append(
            Target(
                "USP Record",
                decode_usp_bulkdata,
                [build_push_record("os::1:a", "ctl", {"Report": [{"Device.X.1.Y": 5}]})],
            )
        )
    except ImportError:
        pass
    try:
        from receiver.decode._cdr import decode_cdr_csv

        extra.append(
            Target(
                "CDR voice CSV",
                lambda body: decode_cdr_csv(body, "voice"),
                [
                    b"msisdn,tower_id,call_type,dest_nr,call_duration_sec,start_time\n"
                    b"31612345678,17,voice,31687654321,120,2024-03-01 12:00:00\n"
                ],
            )
        )
        extra.append(
            Target(
                "CDR data CSV",
                lambda body: decode_cdr_csv(body, "data"),
                [
                    b"msisdn,tower_id,up_bytes,down_bytes,data_type,ip_address,website_url,event_datetime\n"
                    b"31612345678,17,100000,200000,video,81.2.3.4,https://e.com/x,2024-03-01 12:00:00\n"
                ],
            )
        )
    except ImportError:
        pass
    try:
        from receiver.decode._senml import decode_senml

        extra.append(
            Target(
                "SenML JSON",
                lambda body: decode_senml(body, "application/senml+json", now_s=1.7e9),
                [b'[{"bn":"urn:dev:ow:1;","bt":1.7e9,"n":"temp","u":"Cel","v":23.1},{"n":"e","s":4.5}]'],
            )
        )
    except ImportError:
        pass
    return extra


def mutations(seeds: list[bytes], rng: random.Random) -> Iterator[bytes]:
    while True:
        choice = rng.random()
        if choice < 0.1 or not seeds:
            yield rng.randbytes(rng.randrange(0, 256))
            continue
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 4)):
            op = rng.randrange(6)
            if not data:
                break
            at = rng.randrange(len(data))
            if op == 0:
                data[at] ^= 1 << rng.randrange(8)
            elif op == 1:
                del data[at:]
            elif op == 2:
                end = min(len(data), at + rng.randint(1, 64))
                data[at:at] = data[at:end] * rng.randint(1, 8)
            elif op == 3:
                data[at:at] = rng.randbytes(rng.randint(1, 16))
            elif op == 4:
                data[at] = rng.choice(b',\n"{}[]:.0123456789-e \x00\xff')
            else:
                other = rng.choice(seeds)
                data[at:] = other[rng.randrange(len(other) or 1) :]
        yield bytes(data)


def fuzz(target: Target, inputs: int, seed: int, hang_ms: float) -> tuple[int, int, int, list[str]]:
    """(inputs run, crashes, hangs, first crash descriptions)."""
    rng = random.Random(seed)
    crashes = hangs = 0
    examples: list[str] = []
    generator = mutations(target.seeds, rng)
    for _ in range(inputs):
        data = next(generator)
        started = time.perf_counter()
        try:
            target.decode(data)
        except DecodeError:
            pass
        except Exception as exc:
            crashes += 1
            if len(examples) < 3:
                examples.append(f"{type(exc).__name__}: {exc} <- {data[:80]!r}")
        if (time.perf_counter() - started) * 1000 > hang_ms:
            hangs += 1
    return inputs, crashes, hangs, examples


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--inputs", type=int, default=100_000, help="inputs per decoder")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--hang-ms", type=float, default=1000)
    args = parser.parse_args()
    print(f"| {'decoder':<32} | {'inputs':>8} | {'crashes':>7} | {'hangs':>5} | {'inputs/s':>9} |")
    total_crashes = 0
    for target in targets():
        started = time.perf_counter()
        count, crashes, hangs, examples = fuzz(target, args.inputs, args.seed, args.hang_ms)
        rate = count / (time.perf_counter() - started)
        total_crashes += crashes + hangs
        print(f"| {target.name:<32} | {count:>8} | {crashes:>7} | {hangs:>5} | {rate:>9,.0f} |")
        for example in examples:
            print(f"    {example}")
    raise SystemExit(1 if total_crashes else 0)


if __name__ == "__main__":
    main()
