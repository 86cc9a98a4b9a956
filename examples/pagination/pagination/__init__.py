from pagination.pages import last_item, page

__all__ = ["last_item", "page"]
