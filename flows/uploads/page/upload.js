const outcome = document.getElementById('outcome');
function say(text) { outcome.textContent = text; }
async function follow(name, sha256) {
  for (;;) {
    const answer = await fetch(`/upload/status/${encodeURIComponent(name)}?sha256=${sha256}`);
    const body = await answer.json();
    if (!answer.ok) { say(body.error); return; }
    if (body.run) {
      say(`${body.message}; run (audit event ${body.run.audit_event}): ${body.run.outcome}` +
          (body.run.reason ? ` (${body.run.reason})` : ''));
      outcome.dataset.done = body.state;
      return;
    }
    say(body.message + '…');
    await new Promise(resolve => setTimeout(resolve, 2000));
  }
}
document.getElementById('upload').addEventListener('submit', async event => {
  event.preventDefault();
  const file = document.getElementById('file').files[0];
  say(`sending ${file.name}…`);
  const answer = await fetch(`/upload/files/${encodeURIComponent(file.name)}`, {
    method: 'PUT', body: file, headers: {'X-Rempart-CSRF': csrf},
  });
  const body = await answer.json();
  if (!answer.ok) { say(body.error); outcome.dataset.done = 'refused'; return; }
  say(body.message);
  follow(body.file, body.sha256);
});
