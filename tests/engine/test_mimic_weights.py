"""The 13-channel conversion and the loader for the authors' release layout (a tiny copy)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.errors import ModelLoadError
from engine.mimic import MimicModel, builtin_mimic_model, extend_conv_in, load_mimic_model, mimic
from engine.mimic.unets import reference_pruned_keys
from tests.engine.mimic_release import save_sections, write_release


@pytest.fixture(scope="module")
def model() -> MimicModel:
    return builtin_mimic_model()


@pytest.fixture(scope="module")
def release(model: MimicModel, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("mimicbrush-release")
    write_release(model, root)
    return root


def test_extend_conv_in_copies_every_weight_and_zeroes_new_channels() -> None:
    import torch
    from diffusers import UNet2DConditionModel

    torch.manual_seed(0)
    inpaint = UNet2DConditionModel(
        block_out_channels=(4, 8),
        layers_per_block=1,
        sample_size=8,
        in_channels=9,
        out_channels=4,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=8,
        attention_head_dim=2,
        norm_num_groups=2,
    )
    extended = extend_conv_in(inpaint)
    old, new = inpaint.state_dict(), extended.state_dict()

    assert extended.config.in_channels == 13
    assert set(old) == set(new)
    for key in old:
        if key != "conv_in.weight":
            assert torch.equal(old[key], new[key]), key
    assert new["conv_in.weight"].shape == (4, 13, 3, 3)
    assert torch.equal(new["conv_in.weight"][:, :9], old["conv_in.weight"])
    assert not new["conv_in.weight"][:, 9:].any()
    sample = torch.randn((1, 9, 8, 8))
    text = torch.randn((1, 3, 8))
    with torch.inference_mode():
        before = inpaint(sample, 10, text).sample
        after = extended(torch.cat([sample, torch.randn((1, 4, 8, 8))], 1), 10, text).sample
    assert torch.allclose(before, after, atol=1e-6)


def test_reference_pruned_keys_are_the_authors_identities(model: MimicModel) -> None:
    pruned = reference_pruned_keys(model.reference_unet)
    tail = "up_blocks.1.attentions.1."

    assert {"conv_out.weight", "conv_norm_out.weight", tail + "proj_out.weight"} <= pruned
    assert tail + "transformer_blocks.0.attn1.to_q.weight" in pruned
    assert tail + "transformer_blocks.0.norm1.weight" not in pruned  # the stored input
    assert not any(k.startswith("mid_block.") for k in pruned)


def test_load_mimic_model_maps_every_key_of_the_release(model: MimicModel, release: Path) -> None:
    import torch

    loaded = load_mimic_model(release, side=model.side, depth_side=model.depth_side)

    for name in ("imitative_unet", "image_encoder", "image_projection", "depth_guider", "vae"):
        ours, theirs = getattr(model, name).state_dict(), getattr(loaded, name).state_dict()
        assert all(torch.equal(ours[k], theirs[k]) for k in ours), name
    kept = set(model.reference_unet.state_dict()) - reference_pruned_keys(model.reference_unet)
    ref_ours, ref_theirs = model.reference_unet.state_dict(), loaded.reference_unet.state_dict()
    assert all(torch.equal(ref_ours[k], ref_theirs[k]) for k in kept)
    source = Image.new("RGB", (64, 48), (40, 90, 160))
    mask = Image.new("L", (64, 48), 0)
    mask.paste(255, (16, 8, 48, 40))
    reference = Image.effect_noise((32, 32), 50).convert("RGB")
    ours_image = mimic(model, source, mask, reference, steps=2, keep_shape=True)[0]
    theirs_image = mimic(loaded, source, mask, reference, steps=2, keep_shape=True)[0]
    assert np.array_equal(np.asarray(ours_image), np.asarray(theirs_image))


def test_load_mimic_model_names_a_missing_key(model: MimicModel, tmp_path: Path) -> None:
    sections = write_release(model, tmp_path)
    del sections["unet"]["conv_in.weight"]
    save_sections(sections, tmp_path)

    with pytest.raises(
        ModelLoadError, match=r"mimicbrush\.bin.*'unet'.*missing key 'conv_in\.weight'"
    ):
        load_mimic_model(tmp_path)


def test_load_mimic_model_names_a_mis_shaped_or_unknown_key(
    model: MimicModel, tmp_path: Path
) -> None:
    import torch

    sections = write_release(model, tmp_path)
    sections["image_proj"]["projector.weight"] = torch.zeros((8, 31))
    save_sections(sections, tmp_path)
    with pytest.raises(
        ModelLoadError, match=r"'image_proj'.*'projector\.weight' has shape \(8, 31\)"
    ):
        load_mimic_model(tmp_path)

    del sections["image_proj"]
    sections["referencenet"]["conv_out.weight"] = torch.zeros((4, 8, 3, 3))
    sections["image_proj"] = dict(model.image_projection.state_dict())
    save_sections(sections, tmp_path)
    with pytest.raises(ModelLoadError, match=r"'referencenet'.*unexpected key 'conv_out\.weight'"):
        load_mimic_model(tmp_path)


def test_load_mimic_model_explains_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match=r"mimicbrush\.bin: not found"):
        load_mimic_model(tmp_path)


def test_a_hub_id_loads_the_release_from_the_hub_cache(
    model: MimicModel, release: Path, tmp_path: Path
) -> None:
    """``MJ_MIMICBRUSH=owner/name``: the release is read from the Hub cache (offline here, as
    after a download), laid out as huggingface_hub keeps it."""
    import shutil

    import torch

    from engine.mimic.weights import release_folder

    revision = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--acme--mimicbrush-mirror"
    shutil.copytree(release, repo / "snapshots" / revision)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)
    folder = release_folder("acme/mimicbrush-mirror", cache_dir=tmp_path / "hub")
    assert folder == repo / "snapshots" / revision
    loaded = load_mimic_model(folder, side=model.side, depth_side=model.depth_side)
    ours, theirs = model.imitative_unet.state_dict(), loaded.imitative_unet.state_dict()
    assert all(torch.equal(ours[k], theirs[k]) for k in ours)
    with pytest.raises(ModelLoadError, match="not in the local Hub cache"):
        release_folder("acme/not-downloaded", cache_dir=tmp_path / "hub")
    with pytest.raises(ModelLoadError, match="is not a folder"):
        release_folder("./no/such/folder")
