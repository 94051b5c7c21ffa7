// The sandbox speaks to the real /v1 API of this front door: same keys, same credits, same jobs.
(function () {
  'use strict';
  const $ = (id) => document.getElementById(id);
  const POLL_MS = 1000;
  let recordedWav = null;   // Blob (audio/wav) made from the last recording
  let recorder = null;

  function key() { return $('api-key').value.trim(); }

  function source() { return document.querySelector('input[name=source]:checked').value; }

  function showPanels() {
    document.querySelectorAll('.panel').forEach((p) => { p.hidden = p.dataset.source !== source(); });
  }
  document.querySelectorAll('input[name=source]').forEach((r) => r.addEventListener('change', showPanels));

  function setStatus(state, detail) {
    $('status').textContent = state + (detail ? ' — ' + detail : '');
    $('status').dataset.state = state;
  }

  function show(json) { $('job-json').textContent = JSON.stringify(json, null, 2); }

  async function api(method, path, body) {
    const response = await fetch(path, { method, body, headers: { 'X-API-Key': key() } });
    let json = null;
    try { json = await response.json(); } catch (e) { json = { error: 'non-JSON answer', status: response.status }; }
    return { status: response.status, json };
  }

  // --- recording: MediaRecorder gives WebM/Ogg; audio_ref must be WAV, so decode and re-encode as 16-bit PCM.
  function encodeWav(buffer) {
    const rate = buffer.sampleRate;
    const samples = buffer.getChannelData(0);
    const data = new DataView(new ArrayBuffer(44 + samples.length * 2));
    const text = (offset, s) => { for (let i = 0; i < s.length; i++) data.setUint8(offset + i, s.charCodeAt(i)); };
    text(0, 'RIFF'); data.setUint32(4, 36 + samples.length * 2, true); text(8, 'WAVE');
    text(12, 'fmt '); data.setUint32(16, 16, true); data.setUint16(20, 1, true); data.setUint16(22, 1, true);
    data.setUint32(24, rate, true); data.setUint32(28, rate * 2, true); data.setUint16(32, 2, true);
    data.setUint16(34, 16, true); text(36, 'data'); data.setUint32(40, samples.length * 2, true);
    for (let i = 0; i < samples.length; i++) {
      const s = Math.max(-1, Math.min(1, samples[i]));
      data.setInt16(44 + i * 2, s < 0 ? s * 0x8000 : s * 0x7fff, true);
    }
    return new Blob([data], { type: 'audio/wav' });
  }

  $('record-start').addEventListener('click', async () => {
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
      const chunks = [];
      recorder = new MediaRecorder(stream);
      recorder.ondataavailable = (e) => { if (e.data.size) chunks.push(e.data); };
      recorder.onstop = async () => {
        stream.getTracks().forEach((t) => t.stop());
        const recorded = new Blob(chunks, { type: recorder.mimeType });
        const context = new AudioContext();
        const decoded = await context.decodeAudioData(await recorded.arrayBuffer());
        recordedWav = encodeWav(decoded);
        $('record-preview').src = URL.createObjectURL(recordedWav);
        $('record-preview').hidden = false;
        $('record-status').textContent = 'Recorded ' + decoded.duration.toFixed(1) + ' s (sent as WAV)';
      };
      recorder.start();
      $('record-start').disabled = true; $('record-stop').disabled = false;
      $('record-status').textContent = 'Recording… (10 s or more of speech works best)';
    } catch (e) {
      $('record-status').textContent = 'Microphone unavailable: ' + e.message;
    }
  });
  $('record-stop').addEventListener('click', () => {
    if (recorder && recorder.state !== 'inactive') recorder.stop();
    $('record-start').disabled = false; $('record-stop').disabled = true;
  });

  $('load-voices').addEventListener('click', async () => {
    const { status, json } = await api('GET', '/v1/custom-voices?page_size=100');
    const select = $('voice-select');
    select.innerHTML = '';
    if (status !== 200) { show(json); setStatus('error', json.error || status); return; }
    const ready = json.items.filter((v) => v.status === 'ready');
    if (!ready.length) select.add(new Option('(no ready custom voice)', ''));
    ready.forEach((v) => select.add(new Option(v.name + ' — ' + v.id, v.id)));
  });

  async function showResult(jobId) {
    const { status, json } = await api('GET', '/v1/jobs/' + encodeURIComponent(jobId) + '/result');
    show(json);
    if (status !== 200) { setStatus('failed', json.error); return; }
    const audio = $('result-audio');
    audio.src = json.download_url;
    audio.hidden = false;
    const link = $('download-link');
    link.href = json.download_url;
    link.download = jobId + '.' + json.format;
    link.hidden = false;
    setStatus('completed', json.mime_type + ', ' + json.duration + ' s');
  }

  async function watch(jobId) {
    for (;;) {
      const { status, json } = await api('GET', '/v1/jobs/' + encodeURIComponent(jobId));
      show(json);
      if (status !== 200) { setStatus('error', json.error || status); return; }
      if (json.status === 'completed') { await showResult(jobId); return; }
      if (json.status === 'failed') { setStatus('failed', json.error); return; }
      setStatus(json.status);
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  $('tts-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    $('result-audio').hidden = true; $('download-link').hidden = true;
    const form = new FormData();
    form.append('text', $('text').value);
    form.append('language', $('language').value);
    if ($('speed').value) form.append('speed', $('speed').value);
    if ($('duration').value) form.append('duration', $('duration').value);
    form.append('format', $('format').value);
    form.append('async_mode', $('async').checked ? 'true' : 'false');
    if (source() === 'upload' && $('audio-file').files[0]) form.append('audio_ref', $('audio-file').files[0]);
    if (source() === 'record' && recordedWav) form.append('audio_ref', recordedWav, 'recording.wav');
    if (source() === 'voice' && $('voice-select').value) form.append('custom_voice_id', $('voice-select').value);

    $('submit').disabled = true;
    setStatus('submitting');
    try {
      const { status, json } = await api('POST', '/v1/voice-cloning/tts', form);
      show(json);
      if (status !== 200 && status !== 202) { setStatus('error', json.error || status); return; }
      $('job-id').textContent = json.job_id ? '(job ' + json.job_id + ')' : '';
      if (json.mode === 'sync' && json.status === 'completed') { await showResult(json.job_id); return; }
      await watch(json.job_id);  // async, or sync that timed out waiting: poll the job
    } catch (e) {
      setStatus('error', e.message);
    } finally {
      $('submit').disabled = false;
    }
  });
  showPanels();
}());
