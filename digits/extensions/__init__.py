"""Extensions: the two plugin interfaces DIGITS grew beyond classification (torch-free, so the web
process can list and use them).

    digits.extensions.data   kinds of dataset (entry-point group digits.plugins.data)
    digits.extensions.view   one inference result → a page fragment and its JSON (digits.plugins.view)
"""
