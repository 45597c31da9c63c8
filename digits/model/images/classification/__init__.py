"""Image classification models: form, job kind and pages."""
