"""The ``mjbot`` command line. Subcommands import what they need when they run, so ``--help``
and ``mjbot parse`` start in well under a second."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    result: int = args.run(args)
    return result


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mjbot",
        description="A self-hosted Discord bot with Midjourney's workflow on open models.",
    )
    parser.set_defaults(command=None)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    parse_cmd = commands.add_parser(
        "parse",
        help="show how the bot understands a prompt",
        description="Show how the bot understands a prompt: image prompts, weighted text "
        "parts, parameters and the canonical echo. Exits 2 when the prompt has an error.",
    )
    parse_cmd.add_argument("prompt", help="the prompt, as typed after /imagine (quote it)")
    parse_cmd.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parse_cmd.add_argument("--suffix", default="", help="a /prefer suffix to apply")
    parse_cmd.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a /prefer option macro (repeatable)",
    )
    parse_cmd.add_argument(
        "--max-permutations",
        type=int,
        default=40,
        metavar="N",
        help="most prompts a {…} permutation may make (default 40)",
    )
    parse_cmd.set_defaults(command="parse", run=_run_parse)

    imagine_cmd = commands.add_parser(
        "imagine",
        help="render a 2×2 grid from the command line",
        description="Render a prompt's 2×2 grid with the engine, without Discord. A "
        "permutation or --repeat prompt writes one file per job (FILE-1.png, FILE-2.png…).",
    )
    imagine_cmd.add_argument("prompt", help="the prompt, as typed after /imagine (quote it)")
    imagine_cmd.add_argument(
        "--out",
        type=Path,
        metavar="FILE",
        help="where to write the grid (PNG; default: the prompt's first words, .png, here)",
    )
    imagine_cmd.add_argument(
        "--model",
        default=None,
        metavar="SRC",
        help="model source: builtin:shapes, builtin:tiny, a diffusers folder, a "
        ".safetensors file or a Hub id (default: $MJ_MODEL or builtin:shapes)",
    )
    imagine_cmd.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed of the first image (overrides the prompt's --seed)",
    )
    imagine_cmd.add_argument("--device", default="auto", help="cuda, mps, cpu or auto")
    imagine_cmd.add_argument(
        "--model-config",
        type=Path,
        default=None,
        metavar="DIR",
        help="configs for a single-file checkpoint ($MJ_MODEL_CONFIG)",
    )
    imagine_cmd.set_defaults(command="imagine", run=_run_imagine)

    transfer_cmd = commands.add_parser(
        "transfer",
        help="restyle an image like another (neural style transfer)",
        description="Restyle CONTENT like STYLE with the engine's style transfer, without "
        "Discord (no diffusion model is loaded). CONTENT and STYLE are image files or links. "
        "The network is $MJ_VGG19 (or --vgg19); without it, a built-in network of random "
        "filters. Exits 2 on a bad file, link or number.",
    )
    transfer_cmd.add_argument("content", help="the image to restyle (a file or a link)")
    transfer_cmd.add_argument("style", help="the image whose style to copy (a file or a link)")
    transfer_cmd.add_argument(
        "--out", required=True, type=Path, metavar="FILE", help="where to write the result (PNG)"
    )
    transfer_cmd.add_argument(
        "--strength",
        type=int,
        default=100,
        metavar="N",
        help="style strength 0–1000 (default 100; 0: the content unchanged)",
    )
    transfer_cmd.add_argument(
        "--size", type=int, metavar="N", help="long side 64–2048 (default: the content's)"
    )
    transfer_cmd.add_argument(
        "--preserve-colors", action="store_true", help="keep the content's colours"
    )
    transfer_cmd.add_argument(
        "--steps", type=int, metavar="N", help="optimiser steps (default: the engine's)"
    )
    transfer_cmd.add_argument("--seed", type=int, default=None, help="seed (default: random)")
    transfer_cmd.add_argument("--device", default="auto", help="cuda, mps, cpu or auto")
    transfer_cmd.add_argument(
        "--vgg19",
        default=None,
        metavar="SRC",
        help="VGG19 weights: a .pth/.safetensors file or a Hub id (default: $MJ_VGG19)",
    )
    transfer_cmd.set_defaults(command="transfer", run=_run_transfer)

    mimic_cmd = commands.add_parser(
        "mimic",
        help="repaint a region imitating a reference image (MimicBrush)",
        description="Repaint the region of SOURCE that MASK marks (a PNG of SOURCE's size, "
        "white = repaint) with the corresponding content of REFERENCE, and write the 2×2 grid "
        "of results (cells at SOURCE's size; outside the region, SOURCE's pixels). Images are "
        "files or links. The model is $MJ_MIMICBRUSH (or --mimicbrush), the authors' release "
        "folder; without it, a built-in random one. Exits 2 on a bad file, mask or number.",
    )
    mimic_cmd.add_argument("source", help="the image to edit (a file or a link)")
    mimic_cmd.add_argument("--mask", required=True, metavar="MASK", help="the region (white)")
    mimic_cmd.add_argument("--reference", required=True, metavar="REF", help="the image to imitate")
    mimic_cmd.add_argument(
        "--out",
        type=Path,
        metavar="FILE",
        help="where to write the grid (PNG; default: SOURCE's name + -mimic.png, here)",
    )
    mimic_cmd.add_argument(
        "--keep-shape", action="store_true", help="keep the region's shape (texture only)"
    )
    mimic_cmd.add_argument("--seed", type=int, default=None, help="first seed (default: random)")
    mimic_cmd.add_argument("--steps", type=int, metavar="N", help="steps (default: the model's)")
    mimic_cmd.add_argument("--device", default="auto", help="cuda, mps, cpu or auto")
    mimic_cmd.add_argument(
        "--mimicbrush", default=None, metavar="DIR", help="weights folder ($MJ_MIMICBRUSH)"
    )
    mimic_cmd.set_defaults(command="mimic", run=_run_mimic)

    _add_portrait(commands)
    _add_structure(commands)
    from bot.cli.gpu import add_gpu  # argparse only: torch and Ray load when it runs

    add_gpu(commands)

    serve_cmd = commands.add_parser(
        "serve",
        help="run the bot (on Discord, or on the local playground)",
        description="Run the bot. Settings come from the environment or .env (see "
        ".env.example). With DISCORD_TOKEN it connects to Discord; without it (or with "
        "--local) it starts the local playground, a Discord-like page in the browser.",
    )
    serve_cmd.add_argument(
        "--local",
        action="store_true",
        help="use the local playground even when DISCORD_TOKEN is set",
    )
    serve_cmd.set_defaults(command="serve", run=_run_serve)
    return parser


def _add_portrait(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    portrait = commands.add_parser(
        "portrait",
        help="portraits of a person from a few photos (FaceChain)",
        description="Learn a face from 3–10 photos (train), then make portraits (imagine). "
        "The model is $MJ_MODEL; portraits are kept in $MJ_DATA_DIR/portraits/0 (the bot keeps "
        "each user's in portraits/<user id>).",
    )
    actions = portrait.add_subparsers(dest="action", required=True, metavar="ACTION")
    train = actions.add_parser(
        "train",
        help="learn a face from photos",
        description="Print a verdict per photo (kept, or why not); with at least 3 kept, learn "
        "the face as a LoRA. Exits 2 when fewer than 3 are kept.",
    )
    train.add_argument("photos", nargs="+", metavar="PHOTO", help="photos of one person alone")
    train.add_argument("--name", required=True, help="the portrait's name")
    train.add_argument("--steps", type=int, default=None, help="steps (default: 200 per photo)")
    train.add_argument("--device", default="auto", help="cuda, mps, cpu or auto")
    imagine = actions.add_parser(
        "imagine",
        help="make portraits of a trained face",
        description="Render candidates with the face, rank them by likeness and write the best "
        "four as a 2×2 grid.",
    )
    imagine.add_argument("name", help="the portrait's name")
    imagine.add_argument(
        "prompt", help="the scene in our prompt language, e.g. 'in a garden --ar 3:4 --no hat'"
    )
    imagine.add_argument("--style", default=None, help="a portrait style (studio, oil painting…)")
    imagine.add_argument("--out", type=Path, metavar="FILE", help="default: NAME-portrait.png")
    imagine.add_argument("--seed", type=int, default=None, help="first seed (default: random)")
    imagine.add_argument("--candidates", type=int, default=8, help="candidates to rank (4–16)")
    imagine.add_argument("--device", default="auto", help="cuda, mps, cpu or auto")
    portrait.set_defaults(command="portrait", run=_run_portrait)


def _run_portrait(args: argparse.Namespace) -> int:
    from bot.cli.portrait import run_portrait

    return run_portrait(args)


def _run_parse(args: argparse.Namespace) -> int:
    from bot.cli.parse import run_parse

    return run_parse(args)


def _run_serve(args: argparse.Namespace) -> int:
    from bot.cli.serve import run_serve

    return run_serve(local=args.local)


def _run_imagine(args: argparse.Namespace) -> int:
    from bot.cli.imagine import run_imagine

    return run_imagine(args)


def _run_transfer(args: argparse.Namespace) -> int:
    from bot.cli.transfer import run_transfer

    return run_transfer(args)


def _run_mimic(args: argparse.Namespace) -> int:
    from bot.cli.mimic import run_mimic

    return run_mimic(args)


def _add_structure(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    retexture = commands.add_parser(
        "retexture",
        help="redraw an image from a prompt, keeping its structure",
        description="Keep IMAGE's structure (edges, depth or line art, through a ControlNet "
        "from $MJ_CONTROLNETS; without one, img2img from an edge-preserving start) and take "
        "the look from PROMPT; write the 2×2 grid (cells at IMAGE's size). The model is "
        "$MJ_MODEL. Exits 2 on a bad file, prompt or number.",
    )
    background = commands.add_parser(
        "background",
        help="keep an image's subject and repaint everything around it",
        description="Keep IMAGE's subject (found by $MJ_SEGMENTER, default grabcut; or "
        "--mask, white = subject) with its pixels unchanged and repaint the rest from PROMPT; "
        "write the 2×2 grid (cells at IMAGE's size). Exits 2 on a bad file, mask or prompt.",
    )
    for command in (retexture, background):
        command.add_argument("image", help="the image (a file or a link)")
        command.add_argument("prompt", help="the new look, in our prompt language")
        command.add_argument(
            "--out", type=Path, metavar="FILE", help="the grid (PNG; default: IMAGE-<command>.png)"
        )
        command.add_argument("--seed", type=int, default=None, help="first seed (default: random)")
        command.add_argument("--steps", type=int, metavar="N", help="steps (default: the model's)")
        command.add_argument("--device", default="auto", help="cuda, mps, cpu or auto")
    retexture.add_argument(
        "--structure", choices=("edges", "depth", "sketch"), default="edges",
        help="what to keep: edges (default), depth (volumes) or sketch (line art)",
    )  # fmt: skip
    retexture.add_argument(
        "--strength", type=int, default=50, metavar="N",
        help="how tightly the structure is followed, 0–100 (default 50)",
    )  # fmt: skip
    background.add_argument("--mask", metavar="MASK", help="the subject (white), IMAGE's size")
    retexture.set_defaults(command="retexture", run=_run_structure)
    background.set_defaults(command="background", run=_run_structure)


def _run_structure(args: argparse.Namespace) -> int:
    from bot.cli.structure import run_structure

    return run_structure(args)
