"""``imaging qc``: rank a cohort's cases for review from its ensemble members."""

from __future__ import annotations

import argparse
import logging
import sys

from imaging.cli._common import add_command

logger = logging.getLogger(__name__)

EXAMPLE = """\
example:
  imaging segment --images imgs/ --out seg/ --save-members \\
      && imaging qc --members seg/members --out qc.csv
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(
        subparsers,
        "qc",
        help="ensemble quality control: alarms per case from the members' agreement",
        description=(
            "Unsupervised ensemble QC (Kofler et al. 2021): per case and region (WT, TC, ET), "
            "fuse the members (majority vote or SIMPLE), compute every member's Dice and HD95 "
            "against the fusion, set per-member thresholds median - alpha * MAD over the "
            "cohort, and count alarms (an infinite or undefined HD95 is always one). Writes "
            "one row per case, most alarms first. --members is the folder written by "
            "'imaging segment --save-members' (<case>/<member>.nii.gz)."
        ),
        examples=EXAMPLE,
    )
    p.add_argument("--members", required=True, help="folder of <case>/<member>.nii.gz label maps")
    p.add_argument("--out", required=True, help="output table (.csv)")
    p.add_argument(
        "--schema", default=None,
        help="label schema of the maps (default: the one recorded by 'segment --save-members' "
        "in members.json, else told from the maps, refusing ambiguous ones)",
    )
    p.add_argument("--alpha", type=float, default=3.0, help="threshold width in MADs (default 3)")
    p.add_argument("--fusion", choices=["majority", "simple"], default="majority", help="fusion (default majority)")
    p.add_argument("--regions", default=None, help="comma-separated regions (default WT,TC,ET)")
    p.add_argument("--members-table", default=None, help="also write the per-member table (.csv)")
    p.add_argument("--figure", default=None, help="bar chart of alarms per case (.png/.svg)")
    p.set_defaults(func=run)


def _schema(args: argparse.Namespace, members: dict) -> object:
    import json
    from pathlib import Path

    from imaging.labels import get_schema, infer_schema

    if args.schema is not None:
        return get_schema(args.schema)
    meta = Path(args.members) / "members.json"
    if meta.is_file():
        try:
            return get_schema(json.loads(meta.read_text())["schema"])
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(f"{meta}: cannot read the schema ({exc}); pass --schema") from None
    import numpy as np

    from imaging.io import as_label_array

    first = next(iter(next(iter(members.values())).values()))
    return infer_schema(np.unique(as_label_array(first)[0]), name=str(first))


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from imaging._io import atomic_path
    from imaging.qc import ensemble_qc, read_members

    if not str(args.out).lower().endswith(".csv"):
        raise ValueError(f"{args.out}: output must end in .csv")
    members = read_members(args.members)
    schema = _schema(args, members)
    regions = [r.strip() for r in args.regions.split(",") if r.strip()] if args.regions else None
    res = ensemble_qc(members, schema, alpha=args.alpha, fusion=args.fusion, regions=regions)
    res.save(args.out)
    if args.members_table:
        with atomic_path(Path(args.members_table)) as tmp:
            res.members.to_csv(tmp)
    if args.figure:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        ax = res.plot()
        with atomic_path(Path(args.figure), suffix=Path(args.figure).suffix) as tmp:
            ax.figure.savefig(tmp, dpi=150, bbox_inches="tight")
        plt.close(ax.figure)
    s = res.summary()
    n_alarm = int((s["alarms"] > 0).sum())
    print(
        f"imaging qc: {len(s)} case(s), {n_alarm} with alarms, {len(res.errors)} failed; "
        f"top: {', '.join(s.index[:5])}; written to {args.out}",
        file=sys.stderr,
    )
    return 1 if len(res.errors) == len(s) else 0
