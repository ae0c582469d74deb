// alert-receiver console: the only script, and optional (every page works without it).
// 1. Shows each <time datetime> in the viewer's own time zone.
// 2. Reloads pages marked data-refresh="N" every N seconds, unless a form field is being
//    edited or the tab is hidden.
(function () {
  "use strict";
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function local(d) {
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " +
      pad(d.getHours()) + ":" + pad(d.getMinutes());
  }
  document.addEventListener("DOMContentLoaded", function () {
    var zone = "";
    try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { zone = ""; }
    var times = document.querySelectorAll("time[datetime]");
    for (var i = 0; i < times.length; i++) {
      var d = new Date(times[i].getAttribute("datetime"));
      if (!isNaN(d.getTime())) { times[i].textContent = local(d); }
    }
    var note = document.querySelector(".js-local");
    if (note && zone) {
      note.textContent = "(shown in " + zone + ") ";
      var footer = note.parentNode;
      if (footer && footer.firstChild && footer.firstChild.nodeType === 3) {
        footer.firstChild.textContent = "Times ";
      }
    }
    var every = parseInt(document.body.getAttribute("data-refresh") || "0", 10);
    if (every > 0) {
      setInterval(function () {
        var el = document.activeElement;
        var editing = el && /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName);
        if (!document.hidden && !editing) { window.location.reload(); }
      }, every * 1000);
    }
  });
})();
