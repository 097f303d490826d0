"""Export a trained ``builtin:shapes`` checkpoint as the shipped diffusers folder.

``python -m engine.shapes.export --run /work/main/runs/shapes`` writes the best evaluated
snapshot (``--snapshot best``; or ``latest`` for the EMA weights of ``latest.pt``, or a
snapshot file) as float16 safetensors to ``engine/builtin_models/shapes`` (``--out``), with
``training.json`` recording the step, the compute spent and the held-out scores.
"""

from __future__ import annotations

import argparse
import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from engine.shapes.architecture import (
    assemble_pipeline,
    build_text_encoder,
    build_unet,
    build_vae,
)

__all__ = ["DEFAULT_OUT", "best_snapshot", "export", "load_weights", "main"]

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "builtin_models" / "shapes"
SCORED = ("colour", "shape", "position", "background")


def _evaluations(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / "eval.jsonl"
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def best_snapshot(run_dir: Path) -> tuple[Path, dict[str, Any]]:
    """The snapshot with the best mean of the four scored attributes (latest on ties)."""
    ranked = []
    for record in _evaluations(run_dir):
        path = run_dir / "snapshots" / f"step-{record['step']:06d}.pt"
        if path.exists():
            ranked.append((sum(record.get(a, 0.0) for a in SCORED), record["step"], path, record))
    if not ranked:
        raise SystemExit(f"{run_dir} has no evaluated snapshot yet (see its eval.jsonl)")
    _, _, path, record = max(ranked, key=lambda r: (r[0], r[1]))
    return path, record


def load_weights(run_dir: Path, snapshot: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """State dicts of ``vae``, ``unet`` and ``text_encoder`` and a description of them."""
    import torch

    if snapshot == "latest":
        saved = torch.load(run_dir / "latest.pt", map_location="cpu", weights_only=False)
        unet, text_encoder = build_unet(), _text_encoder(run_dir)
        unet.load_state_dict(saved["unet"])
        text_encoder.load_state_dict(saved["text_encoder"])
        # EMA shadow parameters are in the order the trainer listed them: UNet, then text.
        params = [*unet.parameters(), *text_encoder.parameters()]
        for param, shadow in zip(params, saved["ema"]["shadow_params"], strict=True):
            param.data.copy_(shadow)
        weights = {
            "vae": saved["vae"],
            "unet": unet.state_dict(),
            "text_encoder": text_encoder.state_dict(),
        }
        meta = {"unet_step": saved["unet_step"], "scaling_factor": saved["scaling_factor"]}
        return weights, meta
    if snapshot == "best":
        path, _ = best_snapshot(run_dir)
    else:
        path = Path(snapshot)
    saved = torch.load(path, map_location="cpu", weights_only=False)
    return {k: saved[k] for k in ("vae", "unet", "text_encoder")}, saved["meta"]


def _tokenizer(run_dir: Path) -> Any:
    from transformers import CLIPTokenizer

    return CLIPTokenizer.from_pretrained(run_dir / "tokenizer", local_files_only=True)


def _text_encoder(run_dir: Path) -> Any:
    tokenizer = _tokenizer(run_dir)
    return build_text_encoder(len(tokenizer), tokenizer.bos_token_id, tokenizer.eos_token_id)


def export(run_dir: Path, snapshot: str = "best", out: Path = DEFAULT_OUT) -> dict[str, Any]:
    """Write the pipeline folder ``out`` (replacing it) and return what was written."""
    import torch

    weights, meta = load_weights(run_dir, snapshot)
    if meta.get("scaling_factor") is None:
        raise SystemExit(f"{run_dir}: the VAE stage has not finished; nothing to export")
    vae, unet, text_encoder = build_vae(), build_unet(), _text_encoder(run_dir)
    for module, name in ((vae, "vae"), (unet, "unet"), (text_encoder, "text_encoder")):
        module.load_state_dict({k: v.float() for k, v in weights[name].items()})
    vae.register_to_config(scaling_factor=meta["scaling_factor"])
    pipe = assemble_pipeline(vae, unet, text_encoder, _tokenizer(run_dir))
    pipe.to(torch.float16)
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    pipe.save_pretrained(partial, safe_serialization=True)
    # Ship the tokenizer in CLIP's own format (vocab.json + merges.txt), as real models do.
    shutil.rmtree(partial / "tokenizer")
    shutil.copytree(run_dir / "tokenizer", partial / "tokenizer")
    records = [r for r in _evaluations(run_dir) if r["step"] == meta["unet_step"]]
    info = {
        "unet_step": meta["unet_step"],
        "evaluation": records[-1] if records else None,
        "closed_vocabulary": True,  # knows only its world's words: no house style
    }
    (partial / "training.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    shutil.rmtree(out, ignore_errors=True)
    partial.rename(out)
    info["megabytes"] = round(sum(p.stat().st_size for p in out.rglob("*")) / 2**20, 2)
    return info


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True, help="the training run folder")
    parser.add_argument("--snapshot", default="best", help="best, latest or a snapshot file")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the folder to write")
    args = parser.parse_args(argv)
    print(json.dumps(export(args.run, args.snapshot, args.out), indent=2))  # noqa: T201


if __name__ == "__main__":
    main()
