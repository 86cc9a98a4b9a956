DEFAULTS = {"name": "api", "port": 8080, "debug": False}


def setting(overrides, key):
    merged = {**DEFAULTS, **overrides}
    return merged[key]


def port_of(overrides):
    return setting(overrides, "prot")


assert port_of({}) == 8080
assert port_of({"port": 9000}) == 9000
print("port ok")
