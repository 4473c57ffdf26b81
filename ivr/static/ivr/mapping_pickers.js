/* The mapping form's "Load queues" / "Load campaigns": asks our server (which asks Dixa or
   nps.today), fills a list, and copies the chosen id into the field. Nothing typed is
   replaced unless an entry is chosen. */
"use strict";
(function () {
  function csrfToken(form) {
    const input = form.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function load(picker) {
    const form = picker.closest("form");
    const input = picker.querySelector("input");
    const list = picker.querySelector(".relay-picker-choices");
    const status = picker.querySelector(".relay-picker-status");
    const body = new URLSearchParams();
    const token = form.querySelector("#id_dixa_api_token");
    const account = form.querySelector("#id_account");
    body.set("token", token ? token.value : "");
    body.set("account", account ? account.value : "");
    body.set("mapping", input.dataset.mapping || "");
    status.textContent = "Loading…";
    status.className = "relay-picker-status";
    fetch(picker.dataset.url, {
      method: "POST",
      body: body,
      headers: {"X-CSRFToken": csrfToken(form)},
      credentials: "same-origin",
    })
      .then((response) => response.json())
      .then((answer) => {
        if (answer.error) {
          status.textContent = answer.error;
          status.className = "relay-picker-status errornote-inline";
          list.hidden = true;
          return;
        }
        list.replaceChildren(new Option(`— ${answer.options.length} to choose from —`, ""));
        for (const option of answer.options) {
          list.add(new Option(option.label, option.id, false, option.id === input.value));
        }
        list.hidden = false;
        status.textContent = "";
      })
      .catch(() => {
        const what = picker.dataset.kind === "queues" ? "queue" : "campaign";
        status.textContent = `Our server did not answer. Type the ${what} id yourself, or try again.`;
        status.className = "relay-picker-status errornote-inline";
      });
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest(".relay-picker-load");
    if (button) load(button.closest(".relay-picker"));
  });
  // The stored name beside the id is shown only while the field holds that id.
  function showStoredName(picker) {
    const current = picker.querySelector(".relay-picker-current");
    if (current) current.hidden = !current.textContent || picker.querySelector("input").value !== current.dataset.id;
  }

  document.addEventListener("change", (event) => {
    const list = event.target.closest(".relay-picker-choices");
    const picker = event.target.closest(".relay-picker");
    if (list && list.value) picker.querySelector("input").value = list.value;
    if (picker) showStoredName(picker);
  });
  document.addEventListener("input", (event) => {
    const picker = event.target.closest(".relay-picker");
    if (picker) showStoredName(picker);
  });
})();
