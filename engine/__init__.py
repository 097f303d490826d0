"""Generation engine: GenerationRequest → images on diffusers (built in a later issue)."""
