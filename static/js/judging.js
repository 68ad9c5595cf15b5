// Keyboard judging: 1/2/3 label answer A, 4/5/6 or q/w/e label answer B, a/t/b preference, c comment,
// Enter submits, Backspace goes back; the sticky summary shows the current choices. Plain script, no
// dependencies; the form also works without it.
(function () {
  "use strict";
  const form = document.getElementById("judge-form");
  if (!form) return;
  const root = document.querySelector(".judging");
  const backUrl = root ? root.dataset.backUrl : null;
  const comment = document.getElementById("comment");
  const submitButton = document.getElementById("submit-button");
  const byKey = {};
  form.querySelectorAll("input[data-keys]").forEach(function (input) {
    input.dataset.keys.split(/\s+/).filter(Boolean).forEach(function (key) { byKey[key] = input; });
  });
  let sending = false;

  // The summary at the top repeats the current choices, so a keyboard-only judge sees every key take effect
  // even when the radios are below the fold.
  function updateSummary() {
    document.querySelectorAll("[data-summary]").forEach(function (slot) {
      const checked = form.querySelector("input[name=" + slot.dataset.summary + "]:checked");
      slot.textContent = checked ? checked.dataset.label : "-";
    });
  }
  form.addEventListener("change", updateSummary);

  function missing() {
    const names = ["left_label", "right_label"];
    if (form.querySelector("input[name=preference]")) names.push("preference");
    return names.filter(function (name) { return !form.querySelector("input[name=" + name + "]:checked"); });
  }

  function showError(text) {
    let box = document.getElementById("form-error");
    if (!box) {
      box = document.createElement("p");
      box.id = "form-error";
      box.className = "error card";
      box.setAttribute("role", "alert");
      form.parentNode.insertBefore(box, form);
    }
    box.textContent = text;
  }

  function submit() {
    if (sending) return;
    const gaps = missing();
    if (gaps.length) {
      const words = { left_label: "a label for answer A (1/2/3)", right_label: "a label for answer B (4/5/6)",
                      preference: "a preference (a/t/b)" };
      showError("Still needed: " + gaps.map(function (g) { return words[g]; }).join(", ") + ".");
      return;
    }
    sending = true;
    if (submitButton) submitButton.disabled = true;
    form.submit();
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    submit();
  });

  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.metaKey) return;
    const target = event.target;
    if (target && target.closest && target.closest("#flag-form")) return;  // the skip form has its own keys
    const typing = target && (target.tagName === "TEXTAREA" || (target.tagName === "INPUT" && target.type === "text"));
    if (typing) {
      if (event.key === "Escape") target.blur();
      if (event.key === "Enter" && event.ctrlKey) { event.preventDefault(); submit(); }
      return;
    }
    if (event.ctrlKey) return;
    if (event.key === "Enter") {
      if (target && (target.tagName === "A" || target.tagName === "BUTTON") && target !== submitButton) return;
      event.preventDefault();
      submit();
      return;
    }
    if (event.key === "Backspace") {
      if (backUrl) { event.preventDefault(); window.location.href = backUrl; }
      return;
    }
    if (event.key === "c" && comment) { event.preventDefault(); comment.focus(); return; }
    const input = byKey[event.key.toLowerCase()];
    if (input) {
      event.preventDefault();
      input.checked = true;
      input.dispatchEvent(new Event("change", { bubbles: true }));
    }
  });
})();
