"""The window: item models, views, panels and dialogs. No I/O and no business rules here."""
