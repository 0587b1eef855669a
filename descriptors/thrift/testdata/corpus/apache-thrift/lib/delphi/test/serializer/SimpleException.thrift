/*
 * Licensed to the Apache Software Foundation (ASF) under one
 * or more contributor license agreements. See the NOTICE file
 * distributed with this work for additional information
 * regarding copyright ownership. The ASF licenses this file
 * to you under the Apache License, Version 2.0 (the
 * "License"); you may not use this file except in compliance
 * with the License. You may obtain a copy of the License at
 *
 *   http://www.apache.org/licenses/LICENSE-2.0
 *
 * Unless required by applicable law or agreed to in writing,
 * software distributed under the License is distributed on an
 * "AS IS" BASIS, WITHOUT WARRANTIES OR CONDITIONS OF ANY
 * KIND, either express or implied. See the License for the
 * specific language governing permissions and limitations
 * under the License.
 */

namespace * test.SimpleException

exception Error {
  1: i32    ErrorCode = 42
  /** test name collision with Exception class */
  2: Error  InnerException                  
  /** test name collisions with Thrift Delphi implementation details */
  3: uuid   ExceptionData = '00000000-4444-CCCC-ffff-0123456789ab'    
}

// Fixtures for TTestSerializer.Test_Equal: a struct with a non-trivial field,
// used as a set element / map key so tests can construct reference-distinct
// but value-equal instances (Empty, used elsewhere, cannot express this).
struct EqualityItem {
  1: required i32 Value;
}

struct EqualityItemContainers {
  1: required set<EqualityItem>      Items;
  2: required map<EqualityItem, i32> ItemMap;
}



// EOF
