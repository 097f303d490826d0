"""The shapes trainer: both stages run, stop, resume where they stopped, refuse changed
settings, and the exporter ships a pipeline the real loader takes."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from engine.shapes.export import export
from engine.shapes.state import TrainConfig
from engine.shapes.train import train


def _config(run: Path, **overrides: object) -> TrainConfig:
    small = TrainConfig(
        run_dir=run,
        vae_steps=2,
        vae_batch=2,
        unet_steps=2,
        batch=2,
        warmup=1,
        pool_size=8,
        pool_refresh=1,
        decoder_every=1,
        decoder_steps=1,
        decoder_batch=2,
        eval_every=2,
        eval_images=2,
    )
    return replace(small, **overrides)  # type: ignore[arg-type]


def test_trains_resumes_and_exports(tmp_path: Path) -> None:
    import torch
    from diffusers import AutoPipelineForText2Image

    run = tmp_path / "run"
    first = train(_config(run))
    assert (first.vae_step, first.unet_step, first.decoder_step) == (2, 2, 1)
    assert first.scaling_factor is not None
    assert first.scaling_factor > 0
    weight = next(iter(first.unet.parameters())).detach().clone()
    resumed = train(_config(run, unet_steps=3))
    assert (resumed.vae_step, resumed.unet_step, resumed.decoder_step) == (2, 3, 1)
    assert resumed.scaling_factor == first.scaling_factor
    assert not torch.equal(next(iter(resumed.unet.parameters())), weight)  # it kept training
    evaluations = [json.loads(line) for line in (run / "eval.jsonl").read_text().splitlines()]
    assert [e["step"] for e in evaluations] == [2, 3]
    assert all(0.0 <= e["colour"] <= 1.0 for e in evaluations)
    assert (run / "snapshots" / "step-000003.pt").exists()

    out = tmp_path / "shapes"
    info = export(run, "latest", out)
    assert info["unet_step"] == 3
    assert info["megabytes"] < 20
    pipe = AutoPipelineForText2Image.from_pretrained(out, dtype=torch.float32)
    assert type(pipe).__name__ == "StableDiffusionPipeline"
    assert pipe.vae.config.scaling_factor == pytest.approx(first.scaling_factor)
    assert (out / "tokenizer" / "vocab.json").exists()


def test_refuses_to_resume_with_other_settings(tmp_path: Path) -> None:
    run = tmp_path / "run"
    train(_config(run, unet_steps=0))
    with pytest.raises(SystemExit, match=r"lr=0\.0005"):
        train(_config(run, unet_steps=0, lr=1e-3))


def test_a_continuation_may_reweight_its_data(tmp_path: Path) -> None:
    """More two-object scenes and bare fragments for the last steps: the run resumes."""
    run = tmp_path / "run"
    train(_config(run))
    state = train(_config(run, unet_steps=3, two_objects=0.7, fragments=0.1))
    assert state.unet_step == 3
    assert state.config.two_objects == 0.7
    assert state.config.fragments == 0.1
