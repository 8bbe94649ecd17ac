// Open-loop load for capacity searches: requests arrive at a constant RATE per second
// whether or not earlier ones have answered, so a server that falls behind shows it as
// latency and dropped iterations instead of slowing the load down. Each iteration is
// one request; by default two `GET /` for each `GET /api` (the study's mix).
//   k6 run -e BASE_URL=http://127.0.0.1:8000 -e RATE=500 -e DURATION=10s \
//          -e WARMUP=3s -e VUS=100 [-e MIX=/:2,/api:1] capacity.js
// Only the `measure` scenario counts: the summary keeps its figures apart as
// sub-metrics tagged scenario:measure.
import exec from 'k6/execution';
import http from 'k6/http';

const BASE_URL = __ENV.BASE_URL || 'http://127.0.0.1:8000';
const RATE = Number(__ENV.RATE || 100);
const VUS = Number(__ENV.VUS || 100);
const WARMUP = __ENV.WARMUP || '3s';

// "/:2,/api:1" -> ['/', '/', '/api']: the paths of one cycle, in order.
const PATHS = (__ENV.MIX || '/:2,/api:1').split(',').flatMap((part) => {
  const [path, weight] = part.split(':');
  return Array(Number(weight || 1)).fill(path);
});
// REQUESTS (a user's app with other methods or bodies) replaces the mix's GETs:
// [[path, weight, method, JSON body file or null], ...], one cycle in order. Body
// files are read once, here (k6 opens files only in its init context).
const REQUESTS = __ENV.REQUESTS ? JSON.parse(__ENV.REQUESTS).flatMap(
  ([path, weight, method, file]) => Array(Number(weight)).fill(
    { path, method, body: file ? open(file) : null },
  ),
) : null;
const JSON_HEADERS = { headers: { 'Content-Type': 'application/json' } };

function arrivals(duration, startTime) {
  return {
    executor: 'constant-arrival-rate',
    // k6 takes whole arrivals per time unit: per 10 s keeps a tenth of a request/s.
    rate: Math.round(RATE * 10),
    timeUnit: '10s',
    duration,
    startTime,
    preAllocatedVUs: VUS,
    maxVUs: VUS,
    gracefulStop: '2s', // an arrival still unanswered 2 s after the end is not counted
  };
}

const MEASURED = '{scenario:measure}';

export const options = {
  scenarios: {
    warmup: arrivals(WARMUP, '0s'),
    measure: arrivals(__ENV.DURATION || '10s', WARMUP),
  },
  discardResponseBodies: true,
  summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)'],
  // Always true: they make k6 keep the measured scenario's figures apart.
  thresholds: {
    [`http_req_duration${MEASURED}`]: ['max>=0'],
    [`http_reqs${MEASURED}`]: ['count>=0'],
    [`http_req_failed${MEASURED}`]: ['rate>=0'],
    [`dropped_iterations${MEASURED}`]: ['count>=0'],
    [`iterations${MEASURED}`]: ['count>=0'],
  },
};

export default function () {
  if (REQUESTS) {
    const { path, method, body } = REQUESTS[exec.scenario.iterationInTest % REQUESTS.length];
    http.request(method, `${BASE_URL}${path}`, body, body === null ? {} : JSON_HEADERS);
    return;
  }
  const path = PATHS[exec.scenario.iterationInTest % PATHS.length];
  http.get(`${BASE_URL}${path}`);
}
