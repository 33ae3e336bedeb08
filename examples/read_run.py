#!/usr/bin/env python3
"""Read a sinkscope run file (docs/SCHEMA.md) with h5py, and with xarray when present.

    python3 examples/read_run.py run.h5

Debian: apt-get install python3-h5py (python3-xarray python3-h5netcdf for the xarray part).
"""
import sys

import h5py


def text(v):
    """sinkscope stores fixed-length UTF-8 strings, which h5py returns as bytes."""
    return v.decode("utf-8") if isinstance(v, bytes) else str(v)


def main(path):
    with h5py.File(path, "r") as f:
        if not text(f.attrs.get("schema", b"")).startswith("sinkscope/"):
            sys.exit(f"{path}: not a sinkscope run file")
        a = {k: text(v) if isinstance(v, bytes) else v for k, v in f.attrs.items()}
        print(f"{path}: {a['model_type']} from {a['model_path']}, gate {a['gate_kind']} ({a['gate_mode']}), "
              f"{a['n_seqs']} x {a['context_length']} tokens, BOS {a['bos']}, input {a['input_source']}")
        print("summary (paper Table 4 columns):")
        for name, ds in f["summary"].items():
            print(f"  {name:26s} {float(ds[()]):.6g}   {text(ds.attrs['long_name'])}")
        fts = f["stats/first_token_share"]
        print("first-token share per layer, dims", [d.label for d in fts.dims])
        for layer, v in enumerate(f["stats/first_token_share_layer"][:]):
            print(f"  layer {layer:3d}  {v:.4f}  max|h| {f['stats/act_max'][layer, 3]:.1f}")
        if "token_text" in f:
            print("tokens of sequence 0:", [text(t) for t in f["token_text"][0, :16]])
        for group in ("attention", "gates", "hidden"):
            if group in f:
                for name, ds in f[group].items():
                    print(f"  /{group}/{name} {ds.shape} {ds.dtype} dims {[d.label for d in ds.dims]}")
    try:
        import xarray as xr
    except ImportError:
        return
    stats = xr.open_dataset(path, engine="h5netcdf", group="stats")
    print(stats["first_token_share"].to_dataframe().head())


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "run.h5")
