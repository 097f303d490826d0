"""``builtin:shapes``: a small text-to-image model trained here on a procedural world of shapes.

* ``world``: scenes (1–2 shapes, 8 colours, 5 positions, plain/gradient backgrounds), their
  renders and captions, and the held-out combinations;
* ``vocab``: the CLIP tokenizer (one token per caption word);
* ``architecture``: the diffusers/transformers components (f=4 VAE, UNet, CLIP text encoder);
* ``judge``: reads colour, shape, position and background back from an image;
* ``train`` / ``state`` / ``data`` / ``evaluate``: the seeded, resumable trainer;
* ``export``: writes a trained snapshot to ``engine/builtin_models/shapes``.

Train (or resume: the same command) and export::

    nohup nice -n 19 .venv/bin/python -m engine.shapes.train --run /work/main/runs/shapes \\
        >> /work/main/runs/shapes/nohup.out 2>&1 &
    .venv/bin/python -m engine.shapes.export --run /work/main/runs/shapes

Judge the shipped model through the engine: ``.venv/bin/python bench/builtin_model.py``.
"""
