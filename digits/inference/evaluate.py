"""Scores of a classify-many run against ground-truth labels: top-1/top-5 accuracy, the confusion
matrix (rows: true class, columns: predicted class) and per-class precision/recall."""


def evaluate(results, num_classes):
    """results: [(true label id, [predicted ids best first])] → DIGITS-style figures (percent)."""
    matrix = [[0] * num_classes for _ in range(num_classes)]
    top1 = top5 = 0
    for truth, ranked in results:
        if ranked:
            matrix[truth][ranked[0]] += 1
        top1 += bool(ranked) and ranked[0] == truth
        top5 += truth in ranked[:5]
    count = len(results)
    per_class = []
    for k in range(num_classes):
        actual = sum(matrix[k])
        predicted = sum(row[k] for row in matrix)
        hits = matrix[k][k]
        per_class.append({"count": actual, "predicted": predicted, "correct": hits,
                          "precision": _pct(hits, predicted), "recall": _pct(hits, actual)})
    return {"count": count, "top1_accuracy": _pct(top1, count), "top5_accuracy": _pct(top5, count),
            "confusion_matrix": matrix, "per_class": per_class}


def _pct(part, whole):
    return round(100.0 * part / whole, 4) if whole else None
