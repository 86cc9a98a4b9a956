from shapes.area import circle, rectangle

__all__ = ["circle", "rectangle"]
