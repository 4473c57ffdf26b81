from django import forms

from integrations import crypto


class KeptWhenBlank(forms.CharField):
    """A secret's field: left blank, the stored secret stays, so only a typed value is a
    change (the admin's history and audit trail name only what was changed)."""

    def has_changed(self, initial, data):
        return bool(data) and super().has_changed(initial, data)


class SecretFieldsForm(forms.ModelForm):
    """Encrypted fields are write-only in the admin: the page shows the last four characters,
    a blank submission keeps the stored value, and a refused save shows again what was typed
    (never the stored value)."""

    secret_fields: tuple[str, ...] = ()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in self.secret_fields:
            if name not in self.fields:
                continue
            model_field = self.fields[name]
            current = getattr(self.instance, name, "") if self.instance.pk else ""
            field = self.fields[name] = KeptWhenBlank(
                required=model_field.required and not current,
                label=model_field.label,
                help_text=model_field.help_text,
                validators=model_field.validators,
                widget=forms.PasswordInput(
                    render_value=self.is_bound, attrs={"autocomplete": "off"}
                ),
            )
            if current:
                field.help_text = f"Stored: {crypto.mask(current)}. Leave blank to keep it."

    def clean(self):
        cleaned = super().clean()
        for name in self.secret_fields:
            if name in cleaned and not cleaned[name] and self.instance.pk:
                cleaned[name] = getattr(self.instance, name)
                # ModelForm already copied the blank value onto the instance; put it back.
                setattr(self.instance, name, cleaned[name])
        return cleaned
