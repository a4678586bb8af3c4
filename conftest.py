pytest_plugins = ["kc_runtime.testing"]
