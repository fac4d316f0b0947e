// Herald console: the live view (server-sent events). Every other page works
// without this script. Values are set with textContent, never as HTML.
'use strict';
(function () {
  const rows = document.getElementById('live-rows');
  if (rows === null) return;
  const state = document.getElementById('live-state');
  const tenant = rows.dataset.tenant || '';
  const source = new EventSource(rows.dataset.events);
  source.addEventListener('open', function () { state.textContent = 'connected'; });
  source.addEventListener('error', function () { state.textContent = 'reconnecting…'; });
  source.addEventListener('delivery', function (event) {
    const d = JSON.parse(event.data);
    const tr = document.createElement('tr');
    const cell = function (text) { const td = document.createElement('td'); td.textContent = text === null || text === undefined ? '—' : String(text); tr.appendChild(td); return td; };
    cell(d.at);
    const idCell = cell('');
    const a = document.createElement('a');
    a.href = '/deliveries/' + encodeURIComponent(d.id) + '?tenant=' + encodeURIComponent(tenant);
    a.textContent = d.id;
    idCell.appendChild(a);
    cell(d.agentId);
    const badge = document.createElement('span');
    badge.className = 'badge status-' + String(d.status).toLowerCase().replace(/[^a-z]/g, '-');
    badge.textContent = d.status;
    cell('').replaceChildren(badge);
    cell(d.attempt);
    cell(d.statusCode);
    cell(d.errorClass);
    rows.insertBefore(tr, rows.firstChild);
    while (rows.children.length > 200) rows.removeChild(rows.lastChild);
  });
})();
