"""Areas of simple shapes."""

import math


def rectangle(width, height):
    if width < 0 or height < 0
        raise ValueError("sides must be non-negative")
    return width * height


def circle(radius):
    return math.pi * radius ** 2
