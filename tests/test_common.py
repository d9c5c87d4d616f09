"""scikit-learn's estimator checks on IGDDetector (2-D input goes through the MLP path)."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_igd import IGDDetector

#: Checks IGDDetector is expected to fail, each with the reason.
EXPECTED_FAILED_CHECKS = {}


def _estimators():
    # Few epochs keep the ~50 checks fast; everything else is the default.
    yield IGDDetector(max_epochs=3, batch_size=16, random_state=0)


@parametrize_with_checks(
    list(_estimators()),
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS,
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
