import os

# scikit-learn's check_array_api_input (run by parametrize_with_checks) needs scipy's
# array API mode, which must be switched on before scipy is first imported.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def mnist_bunch():
    """The 5,000 MNIST images of ``load_mnist_5k``, as a Bunch (read-only use)."""
    from sklearn_igd.datasets import load_mnist_5k

    return load_mnist_5k()


@pytest.fixture(scope="session")
def mnist(mnist_bunch):
    """``(images, target)`` of ``load_mnist_5k``."""
    return mnist_bunch.images, mnist_bunch.target


@pytest.fixture(scope="session")
def digits():
    """``(images, target)`` of ``load_digits_images``."""
    from sklearn_igd.datasets import load_digits_images

    return load_digits_images(return_X_y=True)
