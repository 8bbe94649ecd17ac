// The reference scenario: each virtual user loops GET /, sleep 0.1 s, GET /api, GET /.
// With REQUEST set (other workloads), each iteration is that one GET, no think time.
// With PATHS set (a user's app, `nox -s app`), like [["/",2],["/api/items",1]], each
// iteration GETs every path its weight's times in turn, no think time, and expects 2xx.
// Configure with environment variables (no need to edit this file):
//   k6 run -e BASE_URL=http://127.0.0.1:8000 -e VUS=10 -e DURATION=60s \
//          [-e REQUEST=/fanout?calls=3] load.js
import http from 'k6/http';
import { check, sleep } from 'k6';

const BASE_URL = __ENV.BASE_URL || 'http://127.0.0.1:8000';
const REQUEST = __ENV.REQUEST;
const PATHS = __ENV.PATHS ? JSON.parse(__ENV.PATHS) : null;

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
    for (const [path, weight] of PATHS) {
      for (let i = 0; i < weight; i += 1) {
        expect2xx(http.get(`${BASE_URL}${path}`), `GET ${path}`);
      }
    }
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
