def banner(name, visits):
    return "Welcome back, " + name + "! Visit number " + visits


message = banner("Ada", 3)
assert message.endswith("3"), message
print(message)
