pytest_plugins = ["kc_testing.fixtures"]
