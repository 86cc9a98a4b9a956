from config_loader.loader import load_settings

__all__ = ["load_settings"]
