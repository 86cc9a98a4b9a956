from config_loader import load_settings


def test_defaults_apply():
    assert load_settings("") == {"workers": "4", "log_level": "info"}


def test_values_override_defaults():
    got = load_settings("workers = 8  # busy host\nname = api\n")
    assert got == {"workers": "8", "log_level": "info", "name": "api"}
