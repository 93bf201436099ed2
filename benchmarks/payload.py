"""11. What a trial receives: the bytes that travel to every trial and retrain run, against Ray's limits.

A trial gets its data by value (``trainables.data.TrialData``), so a node that shares no disk with the
driver can train. This measures that payload as Ray stores it (pickle protocol 5, its out-of-band
buffers included) for the benchmark recipe's rows and for the whole NLI file here, and estimates it for
the reference recipe's 557,850 all-nli triplets from the bytes per row of the whole file. The limit it
is held against is this machine's object store (Ray's default: 30% of memory), which every node of a
cluster sizes the same way; ``tune.with_parameters`` puts the payload there once, and each trial's
node fetches one copy.
"""

from __future__ import annotations

import pickle

import pandas as pd

from benchmarks.recipe import ROOT, recipe
from benchmarks.record import Outcome
from benchmarks.session import Session

REFERENCE_ROWS = 557_850  # sentence-transformers/all-nli, subset triplet, split train
WHOLE_FILE = ROOT.parent / "shared" / "data" / "nli" / "train.jsonl.gz"
TARGET_SHARE = 0.10  # of the object store: what one sweep's data may take, leaving the rest to Ray


def stored_bytes(value: object) -> int:
    """The size of ``value`` serialised as Ray serialises it: protocol-5 pickle plus its raw buffers."""
    buffers: list[pickle.PickleBuffer] = []
    head = pickle.dumps(value, protocol=5, buffer_callback=buffers.append)
    return len(head) + sum(buffer.raw().nbytes for buffer in buffers)


def run(session: Session) -> Outcome:
    import datasets
    import ray

    from benchmarks.sweeps import start_private_ray
    from sweep.workflow.commands import prepare
    from trainables.data import DataSource, TrialData, load_triplets

    prepared = prepare(recipe(session.quick))
    rows: list[dict] = []

    def measure(what: str, data: TrialData) -> None:
        size = stored_bytes(data)
        rows.append({"payload": what, "rows": len(data.train), "bytes": size, "bytes_per_row": size / len(data.train)})

    measure("benchmark recipe (TrialData)", prepared.data)
    whole = load_triplets(DataSource(source=str(WHOLE_FILE)))
    measure("whole NLI file here", TrialData(whole, prepared.data.sts_dev))
    per_row = rows[-1]["bytes_per_row"]
    estimate = per_row * REFERENCE_ROWS
    rows.append(
        {"payload": "reference recipe (estimated)", "rows": REFERENCE_ROWS, "bytes": estimate, "bytes_per_row": per_row}
    )
    model_bytes = stored_bytes(prepared.config.model)
    cache = str(datasets.config.HF_DATASETS_CACHE).encode()
    paths = sum(cache in pickle.dumps(data, protocol=5) for data in (prepared.data, prepared.config.model))
    mapped = datasets.load_dataset("json", data_files=str(WHOLE_FILE), split="train")  # as before: a path
    if not ray.is_initialized():
        start_private_ray()
    store = ray.cluster_resources()["object_store_memory"]
    table = pd.DataFrame(rows).assign(share_of_store=lambda frame: frame["bytes"] / store)
    share = estimate / store
    return Outcome(
        name="11. what a trial receives",
        table=table,
        measured=(
            f"recipe {rows[0]['bytes'] / 1e6:.2f} MB; reference 557,850 rows about {estimate / 1e6:.0f} MB "
            f"({per_row:.0f} B/row), {share:.1%} of this machine's {store / 2**30:.1f} GiB object store; "
            f"model config {model_bytes} B; payloads naming the driver's datasets cache: {paths}"
        ),
        target=f"reference payload ≤ {TARGET_SHARE:.0%} of the object store",
        met=share <= TARGET_SHARE and paths == 0,
        notes=[
            f"the whole file as load_dataset returns it pickles as {stored_bytes(mapped)} B: "
            "the path of its cache file, not the rows"
        ],
    )
