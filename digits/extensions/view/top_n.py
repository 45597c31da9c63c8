"""The top-N view: the most likely classes (a classification model's predictions) or labels (a
multi-label model's, by probability) as bars, like the classify-one page."""
from digits.extensions.view import ViewExtension

TOP_N = 5


def top_n(result, n=TOP_N):
    """[[label, percent]] of a result, most likely first."""
    if result.get("predictions") is not None:
        return [[label, float(pct)] for label, pct in result["predictions"][:n]]
    ranked = sorted(result.get("labels") or [], key=lambda entry: -entry["probability"])
    return [[entry["label"], round(100.0 * entry["probability"], 2)] for entry in ranked[:n]]


class TopN(ViewExtension):
    extension_id = "image-classification-top-n"
    title = "Top classes"
    task_types = ("classification", "multilabel")

    def json(self, result, context):
        return {"top_n": top_n(result)}


VIEW = TopN()
