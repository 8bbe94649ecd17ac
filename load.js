// The reference scenario: each virtual user loops GET /, sleep 0.1 s, GET /api, GET /.
// With REQUEST set (other workloads), each iteration is that one GET, no think time.
// With PATHS set (a user's app, `nox -s app`), like [["/",2],["/api/items",1]], each
// iteration requests every path its weight's times in turn, no think time, and expects
// 2xx; an entry may name its method and a JSON body file: ["/api/orders",1,"POST","/x.json"].
// Configure with environment variables (no need to edit this file):
//   k6 run -e BASE_URL=http://127.0.0.1:8000 -e VUS=10 -e DURATION=60s \
//          [-e REQUEST=/fanout?calls=3] load.js
import http from 'k6/http';
import { check, sleep } from 'k6';

const BASE_URL = __ENV.BASE_URL || 'http://127.0.0.1:8000';
const REQUEST = __ENV.REQUEST;
const PATHS = __ENV.PATHS ? JSON.parse(__ENV.PATHS) : null;
// Body files are read once, here (k6 opens files only in its init context).
const BODIES = (PATHS || []).map((entry) => (entry[3] ? open(entry[3]) : null));
const JSON_HEADERS = { headers: { 'Content-Type': 'application/json' } };

export const options = {
  vus: Number(__ENV.VUS || 10),
  duration: __ENV.DURATION || '60s',
  // Any failed request or failed check fails the run (k6 exits non-zero).
  thresholds: {
    http_req_failed: ['rate==0'],
    checks: ['rate==1'],
  },
  summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)'],
};

function expect(response, name) {
  check(response, { [`${name} status 200`]: (r) => r.status === 200 });
}

function expect2xx(response, name) {
  check(response, { [`${name} status 2xx`]: (r) => r.status >= 200 && r.status < 300 });
}

export default function () {
  if (PATHS) {
    PATHS.forEach(([path, weight, method = 'GET'], index) => {
      const body = BODIES[index];
      for (let i = 0; i < weight; i += 1) {
        const answer = method === 'GET' && body === null
          ? http.get(`${BASE_URL}${path}`)
          : http.request(method, `${BASE_URL}${path}`, body, body === null ? {} : JSON_HEADERS);
        expect2xx(answer, `${method} ${path}`);
      }
    });
    return;
  }
  if (REQUEST) {
    expect(http.get(`${BASE_URL}${REQUEST}`), `GET ${REQUEST}`);
    return;
  }
  expect(http.get(`${BASE_URL}/`), 'GET /');
  sleep(0.1);
  expect(http.get(`${BASE_URL}/api`), 'GET /api');
  expect(http.get(`${BASE_URL}/`), 'GET /');
}
