from django import forms

from integrations import crypto


class SecretFieldsForm(forms.ModelForm):
    """Encrypted fields are write-only in the admin: the page shows the last four characters,
    a blank submission keeps the stored value."""

    secret_fields: tuple[str, ...] = ()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in self.secret_fields:
            if name not in self.fields:
                continue
            field = self.fields[name]
            current = getattr(self.instance, name, "") if self.instance.pk else ""
            field.widget = forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"})
            if current:
                field.required = False
                field.help_text = f"Stored: {crypto.mask(current)}. Leave blank to keep it."

    def clean(self):
        cleaned = super().clean()
        for name in self.secret_fields:
            if name in cleaned and not cleaned[name] and self.instance.pk:
                cleaned[name] = getattr(self.instance, name)
                # ModelForm already copied the blank value onto the instance; put it back.
                setattr(self.instance, name, cleaned[name])
        return cleaned
