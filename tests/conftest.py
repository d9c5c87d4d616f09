import os

# scikit-learn's check_array_api_input (run by parametrize_with_checks) needs scipy's
# array API mode, which must be switched on before scipy is first imported.
os.environ.setdefault("SCIPY_ARRAY_API", "1")
