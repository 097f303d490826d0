"""/imagine's prompt option suggests LoRA names while one is typed after ``--lora``."""

from __future__ import annotations

from bot.exts.imagine import lora_suggestions


def test_suggestions_complete_the_name_being_typed_only() -> None:
    names = ["ink", "inkwash", "watercolor"]
    assert lora_suggestions("a cat --lora in", names) == [
        "a cat --lora ink",
        "a cat --lora inkwash",
    ]
    assert lora_suggestions("a cat --lora ink::0.5 w", names) == [
        "a cat --lora ink::0.5 watercolor"
    ]
    assert lora_suggestions("a cat --lora ink --ar w", names) == []  # past another parameter
    assert lora_suggestions("a cat", names) == []
    assert lora_suggestions("x" * 95 + " --lora w", names) == []  # over Discord's 100
