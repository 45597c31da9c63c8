"""A data extension whose form lives in a module of its own, imported only when a page needs it: the dataset
tool imports the extension, and never loads Flask or WTForms."""
from importlib import import_module

from digits.extensions.data import DataExtension


class LazyFormExtension(DataExtension):
    forms_module = ""   # the module holding the form class named form_name and plan(form, allowed_roots)
    form_name = ""

    @property
    def form_class(self):
        return getattr(import_module(self.forms_module), self.form_name)

    def plan(self, form, config):
        return import_module(self.forms_module).plan(form, config["allowed_roots"])
