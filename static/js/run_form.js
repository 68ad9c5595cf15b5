// New generation run: picking a corpus selects its language's default template and generator, unless staff
// already chose one by hand (their choice wins).
(function () {
  const data = document.getElementById("corpus-defaults");
  const corpus = document.querySelector("select[name=corpus]");
  if (!data || !corpus) return;
  const defaults = JSON.parse(data.textContent);
  const fields = ["template", "generator"].map((name) => document.querySelector(`select[name=${name}]`)).filter(Boolean);
  fields.forEach((field) => field.addEventListener("change", () => { field.dataset.chosen = "1"; }));
  corpus.addEventListener("change", () => {
    const chosen = defaults[corpus.value] || {};
    fields.forEach((field) => {
      if (!field.dataset.chosen && chosen[field.name] !== undefined) field.value = String(chosen[field.name]);
    });
  });
})();
