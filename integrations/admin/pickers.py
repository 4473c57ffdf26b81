"""The two-box pickers of `filter_horizontal` / `filter_vertical`."""


class TwoBoxPickers:
    """A two-box picker is worked with its arrows and its search box; Django's "Hold down
    Control…" hint, added to every multiple select, is meant for the plain one and is left
    off these (the field's own help text stays)."""

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        if field is not None and db_field.name in (*self.filter_horizontal, *self.filter_vertical):
            field.help_text = db_field.help_text
        return field
