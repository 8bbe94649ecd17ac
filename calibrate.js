// Drive the fake DB directly at a constant arrival rate (open loop), for `nox -s calibrate`:
//   k6 run -e BASE_URL=http://127.0.0.1:6161/ -e RATE=1000 -e DURATION=10s calibrate.js
import http from 'k6/http';

export const options = {
  scenarios: {
    constant_rate: {
      executor: 'constant-arrival-rate',
      rate: Number(__ENV.RATE || 1000),
      timeUnit: '1s',
      duration: __ENV.DURATION || '10s',
      preAllocatedVUs: Number(__ENV.VUS || 300),
      maxVUs: Number(__ENV.MAX_VUS || 2000),
    },
  },
  discardResponseBodies: true,
  summaryTrendStats: ['med', 'p(99)', 'max'],
};

export default function () {
  http.get(__ENV.BASE_URL);
}
