"""Published prices per million tokens (USD), for the cost each session records.

Taken from the providers' pricing pages (Google AI for Developers "Gemini Developer API pricing",
paid tier, prompts <= 200k tokens; DeepSeek "Models & Pricing", cache-miss input; GroqCloud
"Pricing"). Prices change: a model that is not listed costs ``None`` (shown as "unknown"),
never a guess. A self-hosted endpoint costs nothing per token.
"""

from __future__ import annotations

# (provider, model) -> (input, output) USD per 1M tokens. Gemini bills thinking tokens as output.
PRICES: dict[tuple[str, str], tuple[float, float]] = {
    ("gemini", "gemini-2.5-flash"): (0.30, 2.50),
    ("gemini", "gemini-2.5-flash-lite"): (0.10, 0.40),
    ("gemini", "gemini-2.5-pro"): (1.25, 10.00),
    ("deepseek", "deepseek-chat"): (0.28, 0.42),
    ("deepseek", "deepseek-reasoner"): (0.28, 0.42),
    ("groq", "llama-3.1-8b-instant"): (0.05, 0.08),
    ("groq", "llama-3.3-70b-versatile"): (0.59, 0.79),
}


def cost_usd(provider: str, model: str, tokens_in: int, tokens_out: int) -> float | None:
    if provider == "openai":  # the self-hosted, OpenAI-compatible endpoint
        return 0.0
    price = PRICES.get((provider, model))
    if price is None:
        return None
    return (tokens_in * price[0] + tokens_out * price[1]) / 1_000_000
