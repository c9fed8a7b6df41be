"""The benchmarks' one table: each figure for the baseline and the fast path, their ratio, the target."""

from collections.abc import Sequence

# (figure name, format of a value, baseline value, fast-path value, target)
Row = tuple[str, str, float, float, str]


def print_comparison(
    title: str, rows: Sequence[Row], labels: tuple[str, str] = ("baseline", "fast path")
) -> None:
    """``labels``: the names of the two measured columns (the ratio is second / first)."""
    name_width = max(len("figure"), *(len(row[0]) for row in rows))
    target_width = max(len("target"), *(len(row[4]) for row in rows))
    first, second = labels
    ratio_name = f"{second.split()[0]}/{first.split()[0]}"
    print(f"\n{title}")
    print(
        f"| {'figure':<{name_width}} | {first:>12} | {second:>12} | {ratio_name:>13} "
        f"| {'target':>{target_width}} |"
    )
    print(f"|{'-' * (name_width + 2)}|{'-' * 14}|{'-' * 14}|{'-' * 15}|{'-' * (target_width + 2)}|")
    for name, fmt, base, fast, target in rows:
        ratio = f"{fast / base:.2f}x" if base else "n/a"
        print(
            f"| {name:<{name_width}} | {fmt.format(base):>12} | {fmt.format(fast):>12} | {ratio:>13} "
            f"| {target:>{target_width}} |"
        )
