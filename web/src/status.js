// The connection indicator in the header: a coloured dot and a word for the
// stream's state, a countdown while it waits to reconnect (click to retry
// now), and the last problem the stream reported.

const LABELS = {
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting',
  stopped: 'Offline',
};

export class ConnectionStatus {
  constructor(element, stream) {
    this.element = element;
    this.label = element.querySelector('.label');
    this.stream = stream;
    this.detail = {state: 'connecting'};
    stream.addEventListener('state', (e) => {
      this.detail = e.detail;
      this.render();
    });
    stream.addEventListener('problem', (e) => {
      this.problem = e.detail.message;
      this.render();
    });
    element.addEventListener('click', () => stream.retryNow());
    setInterval(() => {
      if (this.detail.state === 'reconnecting') this.render();
    }, 1000);
    this.render();
  }

  render() {
    const {state, retryAt, reason} = this.detail;
    this.element.dataset.state = state;
    let text = LABELS[state] ?? state;
    if (state === 'reconnecting' && retryAt) {
      const seconds = Math.max(0, Math.ceil((retryAt - Date.now()) / 1000));
      text = seconds > 0 ? `Reconnecting in ${seconds} s` : 'Reconnecting…';
    }
    this.label.textContent = text;
    const why = [reason, this.problem].filter(Boolean).join('; ');
    this.element.title = state === 'reconnecting' ? `${why ? why + '. ' : ''}Click to retry now.` : why;
  }
}
