// A device backend's side of events: tells Alexa that one of a user's devices
// changed, through the Worker's /alexa/events (docs/skill.md §4).
//
//   OAUTH_ISSUER=… OAUTH_CLIENT_ID=… OAUTH_CLIENT_SECRET=… \
//     node report-change.mjs <sub> <endpoint id> ON|OFF
//
// <sub> is our user id, as /userinfo and every access token name it. Prints
// the answer; exits 1 unless Alexa took the event.
import { sendChangeReport } from './index.mjs';

const [sub, endpointId, state] = process.argv.slice(2);
if (!sub || !endpointId || !['ON', 'OFF'].includes(state)) {
  console.error('usage: node report-change.mjs <sub> <endpoint id> ON|OFF');
  process.exit(2);
}
const property = {
  namespace: 'Alexa.PowerController', name: 'powerState', value: state,
  timeOfSample: new Date().toISOString(), uncertaintyInMilliseconds: 0,
};
const answer = await sendChangeReport(sub, endpointId, [property]);
console.log(JSON.stringify(answer));
process.exit(answer.status === 202 ? 0 : 1);
