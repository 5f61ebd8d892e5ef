/* The studio's editor, made better with script: a live preview with the checks next to their
   fields, formatting buttons, pictures by drag and drop, and topics suggested as they are
   typed. Every page works without it: forms post, and "Show preview" fills the frame. */
"use strict";

(function () {
  const form = document.getElementById("editor");
  if (!form) {
    return;
  }
  const frame = document.getElementById("preview");
  const body = document.getElementById("f-body");
  let timer = null;
  let asked = 0;

  function fields() {
    const data = new FormData(form);
    data.delete("image_file");
    data.delete("action");
    return data;
  }

  function showChecks(checks) {
    form.querySelectorAll("ul.checks").forEach(function (list) {
      const name = list.id.slice(2);
      const found = checks[name] || [];
      const shown = found.map(function (c) { return c.severity + c.text; }).join("\n");
      if (list.dataset.shown === shown) {
        return;
      }
      list.dataset.shown = shown;
      list.replaceChildren();
      found.forEach(function (check) {
        const item = document.createElement("li");
        item.className = check.severity;
        const label = document.createElement("strong");
        label.textContent = check.label + ":";
        item.append(label, " " + check.text);
        list.append(item);
      });
    });
  }

  function refresh() {
    const mine = ++asked;
    fetch("/preview", {
      method: "POST",
      body: fields(),
      headers: { "Accept": "application/json" },
      credentials: "same-origin",
    }).then(function (response) {
      return response.ok ? response.json() : null;
    }).then(function (data) {
      if (!data || mine !== asked) {
        return;
      }
      frame.src = data.page;
      showChecks(data.checks);
    }).catch(function () { /* the next keystroke tries again */ });
  }

  function soon() {
    clearTimeout(timer);
    timer = setTimeout(refresh, 300);
  }

  form.addEventListener("input", function (event) {
    if (event.target.type !== "file") {
      soon();
    }
  });
  const previewButton = document.getElementById("preview-button");
  if (previewButton) {
    previewButton.addEventListener("click", function (event) {
      event.preventDefault();
      refresh();
    });
  }

  // --- formatting buttons ---------------------------------------------------------------------
  const toolbar = form.querySelector(".toolbar");
  const snippets = {
    heading: ["\n## ", "", "\n"],
    bold: ["**", "", "**"],
    link: ["[", "", "](https://)"],
    list: ["\n- ", "", "\n"],
    picture: ["![", "", "](bild.jpg)"],
  };
  if (toolbar && body) {
    toolbar.hidden = false;
    toolbar.addEventListener("click", function (event) {
      const button = event.target.closest("button[data-insert]");
      if (!button) {
        return;
      }
      const [before, , after] = snippets[button.dataset.insert];
      const start = body.selectionStart;
      const end = body.selectionEnd;
      const picked = body.value.slice(start, end);
      const picture = document.getElementById("f-image");
      let tail = after;
      if (button.dataset.insert === "picture" && picture && picture.value) {
        tail = "](" + picture.value + ")";
      }
      body.setRangeText(before + picked + tail, start, end, "end");
      if (!picked) {
        const caret = start + before.length;
        body.setSelectionRange(caret, caret);
      }
      body.focus();
      soon();
    });
  }

  // --- pictures: chosen or dropped, stored at once ---------------------------------------------
  const file = document.getElementById("f-image-file");
  const picture = document.getElementById("f-image");
  const current = document.getElementById("f-image-current");
  function upload(chosen) {
    if (!chosen) {
      return;
    }
    const data = new FormData();
    data.append("csrf", form.elements.csrf.value);
    data.append("rel", form.dataset.rel);
    data.append("kind", form.dataset.kind);
    data.append("image_file", chosen, chosen.name);
    fetch("/upload", { method: "POST", body: data, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) {
          return response.text().then(function (text) {
            const page = new DOMParser().parseFromString(text, "text/html");
            const heading = page.querySelector("h1");
            throw new Error(heading ? heading.textContent : String(response.status));
          });
        }
        return response.json();
      })
      .then(function (stored) {
        picture.value = stored.name;
        current.textContent = current.dataset.now.replace("{name}", stored.name);
        file.value = "";
        soon();
      })
      .catch(function (error) {
        current.textContent = error.message;
      });
  }
  if (file && picture && current) {
    file.addEventListener("change", function () {
      upload(file.files[0]);
    });
    const zone = file.closest(".field");
    ["dragenter", "dragover"].forEach(function (name) {
      zone.addEventListener(name, function (event) {
        event.preventDefault();
        zone.classList.add("dropping");
      });
    });
    ["dragleave", "drop"].forEach(function (name) {
      zone.addEventListener(name, function () {
        zone.classList.remove("dropping");
      });
    });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      if (event.dataTransfer && event.dataTransfer.files.length) {
        upload(event.dataTransfer.files[0]);
      }
    });
  }

  // --- topics: suggest known ones for the one being typed --------------------------------------
  const tags = document.getElementById("f-tags");
  const known = document.getElementById("tags-known");
  if (tags && known) {
    const all = Array.from(known.options).map(function (o) { return o.value; });
    tags.addEventListener("input", function () {
      const parts = tags.value.split(",");
      const typed = parts.pop().trim().toLowerCase();
      const done = parts.map(function (p) { return p.trim(); }).filter(Boolean);
      const head = done.length ? done.join(", ") + ", " : "";
      known.replaceChildren();
      all.filter(function (t) {
        return t.toLowerCase().startsWith(typed) && done.indexOf(t) < 0;
      }).forEach(function (t) {
        const option = document.createElement("option");
        option.value = head + t;
        known.append(option);
      });
    });
  }
}());
